"""`/mrt/record/start` and `/mrt/record/stop`: a WAV sink opened and closed on demand.

The generator's tap hands each frame to the sink, which only copies it into
its own buffer; the sink's writer thread does the disk I/O. If the disk
cannot keep up, frames are dropped and counted rather than ever slowing the
music down (audio/sinks.py).
"""

from __future__ import annotations

import logging

import numpy as np

from mrtd.audio.sinks import SinkWriter, WavDestination

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self) -> None:
        self._sink: SinkWriter | None = None
        self.path: str | None = None

    @property
    def recording(self) -> bool:
        return self._sink is not None

    @property
    def dropped(self) -> int:
        return self._sink.dropped_blocks if self._sink is not None else 0

    def start(self, path: str) -> str:
        """Start a take in a new file: `path`, or `stem-2.wav`... if taken; returns the one used.

        SinkError (with the reason) when the file cannot be written."""
        if self._sink is not None:
            raise ValueError(f"already recording to {self.path}")
        wav = WavDestination(path)
        path = wav.path
        sink = SinkWriter(f"record:{path}", wav)
        sink.start()
        self._sink, self.path = sink, path
        log.info("recording to %s", path)
        return path

    def stop(self) -> str | None:
        sink, path = self._sink, self.path
        if sink is None:
            return None
        self._sink, self.path = None, None
        sink.stop()
        log.info("recorded %s (%d frames dropped)", path, sink.dropped_blocks)
        return path

    def tap(self, frame: np.ndarray) -> None:
        """Generation thread: hand over the frame, never wait."""
        sink = self._sink
        if sink is not None:
            sink.offer(frame)
