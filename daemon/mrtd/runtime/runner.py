"""The generation thread: keeps the ring `lead_frames` ahead of the audio callback."""

from __future__ import annotations

import logging
import threading

from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from mrtd.runtime.generator import Generator
from mrtd.runtime.ring import Ring

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.0005


def ring_for(lead_frames: int) -> Ring:
    """A ring with room for the lead plus one frame in flight and the playout's reserve."""
    return Ring((lead_frames + 2) * FRAME_SAMPLES)


class Runner:
    def __init__(self, generator: Generator, ring: Ring, lead_frames: int = 3) -> None:
        if lead_frames < 1:
            raise ValueError("lead_frames must be at least 1")
        if ring.capacity < (lead_frames + 1) * FRAME_SAMPLES:
            raise ValueError("ring is too small for the lead")
        self.generator = generator
        self.ring = ring
        self.lead_frames = lead_frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mrtd-generator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        target_fill = self.lead_frames * FRAME_SAMPLES
        ring = self.ring
        while not self._stop.is_set():
            # Sleep exactly as long as the callback needs to drain the excess: no spinning,
            # and no lock shared with the callback.
            excess = ring.fill() + FRAME_SAMPLES - target_fill
            if excess > 0:
                self._stop.wait(max(excess / SAMPLE_RATE, MIN_WAIT_S))
                continue
            ring.write(self.generator.next_frame())
