"""The generation thread: keeps the ring `lead_frames` ahead of the audio callback.

When the device runs at another rate than the model, each frame goes through
a `RateConverter` before it is written, so the ring (and the callback) work
at the device's rate and the callback still only copies.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

from mrtd.runtime.resample import RateConverter
from mrtd.frame import FRAME_SECONDS, FRAME_SAMPLES, SAMPLE_RATE
from mrtd.runtime.generator import Generator
from mrtd.audio.ring import Ring
from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

MIN_WAIT_S = 0.0005


def frame_samples_at(sample_rate: int) -> int:
    """Ring samples per model frame at `sample_rate` (rounded up)."""
    return math.ceil(FRAME_SAMPLES * sample_rate / SAMPLE_RATE)


def ring_for(lead_frames: int, sample_rate: int = SAMPLE_RATE) -> Ring:
    """A ring with room for the lead plus one frame in flight and the playout's reserve.

    At another rate than 48 kHz the resampler's output comes in uneven bursts, so
    one more frame of room covers the largest burst.
    """
    frames = lead_frames + (2 if sample_rate == SAMPLE_RATE else 3)
    return Ring(frames * frame_samples_at(sample_rate))


class Runner:
    def __init__(
        self,
        generator: Generator,
        ring: Ring,
        lead_frames: int = 3,
        converter: RateConverter | None = None,
        duck: Callable[[int], None] | None = None,
    ) -> None:
        """`converter`: resamples each frame to the ring's (device) rate; None when that is 48 kHz.
        `duck`: silences what the ring holds before a ring position (`Playout.duck`), for a reset
        asked for now; None leaves the generator to fade a reset in over its own frame."""
        if lead_frames < 1:
            raise ValueError("lead_frames must be at least 1")
        if converter is not None and lead_frames < 2:
            # The resampler holds back about a third of a frame: one frame of lead cannot
            # keep a device block plus the playout's reserve in the ring.
            raise ValueError("lead_frames must be at least 2 when the device is not at 48 kHz")
        self.sample_rate = converter.out_rate if converter is not None else SAMPLE_RATE
        self.frame_samples = frame_samples_at(self.sample_rate)
        largest_write = converter.max_block if converter is not None else FRAME_SAMPLES
        if ring.capacity < lead_frames * self.frame_samples + largest_write:
            raise ValueError("ring is too small for the lead")
        self.generator = generator
        self.ring = ring
        self.lead_frames = lead_frames
        self.converter = converter
        # The most the ring is sure to reach: the lead, less what the resampler holds back.
        # The playout must not wait for more than this before it starts (or it never would).
        self.reachable_fill = lead_frames * self.frame_samples - (converter.look_ahead if converter else 0)
        self.errors = 0
        self.duck = duck
        generator.ducks_ahead = duck is not None
        self._worker = Worker("mrtd-generator", self._run)
        self._stop = self._worker.stopping

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    @property
    def running(self) -> bool:
        return self._worker.running

    def _run(self) -> None:
        frame_samples = self.frame_samples
        target_fill = self.lead_frames * frame_samples
        ring, converter, rate, generator = self.ring, self.converter, self.sample_rate, self.generator
        while not self._stop.is_set():
            # Sleep exactly as long as the callback needs to drain the excess: no spinning,
            # and no lock shared with the callback.
            excess = ring.fill() + frame_samples - target_fill
            if excess > 0:
                self._stop.wait(max(excess / rate, MIN_WAIT_S))
                continue
            try:
                frame = generator.next_frame()
            except Exception:  # a bug outside the engine: the playout conceals the gap, we go on
                self.errors += 1
                log.exception("frame %d failed; skipped", generator.frames)
                self._stop.wait(FRAME_SECONDS)  # never spin on a frame that keeps failing
                continue
            if generator.ducked and self.duck is not None:  # before the write: the callback ducks up to it
                self.duck(ring.written + (converter.look_ahead if converter is not None else 0))
            ring.write(converter.convert(frame) if converter is not None else frame)
