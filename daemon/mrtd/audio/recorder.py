"""`/mrt/record/start` and `/mrt/record/stop`: a WAV sink opened and closed on demand.

The generator's tap hands each frame to the sink, which only copies it into
its own buffer; the sink's writer thread does the disk I/O. If the disk
cannot keep up, frames are dropped and counted rather than ever slowing the
music down (audio/sinks.py).

A take can also end by itself: a full disk, its disk's free-space floor, its
maximum length (`RecordLimits`). Then the writer thread has already patched
the header and closed the file; the recorder then says it is not recording,
and why the take ended (`error`), to status and the page.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from mrtd.audio.sinks import SinkWriter, WavDestination

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordLimits:
    min_free_bytes: int = 0  # no take starts, and a take ends, below this free on its disk
    max_seconds: float | None = None  # a take ends by itself at this length; None: no limit


class Recorder:
    def __init__(self, limits: RecordLimits | None = None) -> None:
        self.limits = limits or RecordLimits()
        self._sink: SinkWriter | None = None
        self._path: str | None = None
        self._lock = threading.Lock()  # start, stop and the status read may come from different threads
        self.error = ""  # why the last take ended by itself ("" while recording, or after a stop)

    @property
    def path(self) -> str | None:
        """The take being written; None when none is (also once one has ended by itself)."""
        self._reap()
        return self._path

    @property
    def recording(self) -> bool:
        return self.path is not None

    @property
    def dropped(self) -> int:
        sink = self._sink
        return sink.dropped_blocks if sink is not None else 0

    def start(self, path: str) -> str:
        """Start a take in a new file: `path`, or `stem-2.wav`... if taken; returns the one used.

        SinkError (with the reason) when the file cannot be written, or its disk is under the floor."""
        self._reap()
        with self._lock:
            if self._sink is not None:
                raise ValueError(f"already recording to {self._path}")
            wav = WavDestination(path, self.limits.min_free_bytes, self.limits.max_seconds)
            path = wav.path
            sink = SinkWriter(f"record:{path}", wav)
            sink.start()
            self._sink, self._path, self.error = sink, path, ""
        log.info("recording to %s", path)
        return path

    def stop(self) -> str | None:
        with self._lock:
            sink, path = self._sink, self._path
            if sink is None:
                return None
            self._sink, self._path = None, None
        sink.stop()
        log.info("recorded %s (%d frames dropped)", path, sink.dropped_blocks)
        return path

    def _reap(self) -> None:
        """A take whose writer ended by itself (full disk, floor, length): join its finished thread,
        keep why it ended. Never on the generation thread (tap does not call this)."""
        sink = self._sink
        if sink is None or not sink.error:
            return
        with self._lock:
            if self._sink is not sink:
                return
            self._sink, self._path, self.error = None, None, sink.error
        sink.stop()  # the writer has returned already: this only joins it

    def tap(self, frame: np.ndarray) -> None:
        """Generation thread: hand over the frame, never wait."""
        sink = self._sink
        if sink is not None:
            sink.offer(frame)
