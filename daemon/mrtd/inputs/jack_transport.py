"""When JACK's transport arrives at its start: a transport reset, as the official plugin's at beat 0.

The official AU plugin resets the model when the host's beat position arrives at 0, once per
arrival (inputs/transport.py says how MIDI tells it). JACK's transport is the host timeline of a
Linux studio: this watcher reads it through libjack (a client with no ports, never activated:
mrtd.jack.TransportReader) every `POLL_S` and calls `on_start` when its frame arrives at 0, or
jumps back to within the frames that passed since the last look (a locate to 0 while rolling,
which moves on from 0 before a poll could see it). No library beyond libjack is needed; without
a JACK server it logs so once and stays off. Read from the official code, not copied.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from mrtd.jack import TransportReader
from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

POLL_S = 0.01  # how often the transport is read: a start is heard within this (and a JACK period)


class JackTransportWatch:
    def __init__(self, on_start: Callable[[], None], poll_s: float = POLL_S,
                 reader: Callable[[], TransportReader] = TransportReader) -> None:
        self.on_start = on_start
        self.poll_s = poll_s
        self.starts = 0  # arrivals at the start seen (a counter for status and tests)
        self.looks = 0  # readings of the transport so far
        self.at_start = False  # as the official `wasBeatZero`: not yet at 0 when nothing has been read
        self._reader = reader
        self._worker = Worker("mrtd-jack-transport", self._run)
        self.connected = False

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        try:
            reader = self._reader()
        except OSError as exc:
            log.info("JACK transport: not followed (%s)", exc)
            return
        self.connected = True
        try:
            last_frame, last_time = reader.frame(), time.monotonic()
            self._look(last_frame, last_frame, 0)
            while not self._worker.stopping.wait(self.poll_s):
                frame, now = reader.frame(), time.monotonic()
                passed = int((now - last_time) * reader.sample_rate) + 1
                self._look(frame, last_frame, passed)
                last_frame, last_time = frame, now
        finally:
            self.connected = False
            reader.close()

    def _look(self, frame: int, last_frame: int, passed: int) -> None:
        """One reading: `frame` now, `last_frame` before, `passed` frames of time between them."""
        self.looks += 1
        at_start = frame == 0 or (frame < last_frame and frame <= passed)
        if at_start and not self.at_start:
            self.starts += 1
            try:
                self.on_start()
            except Exception:  # the watcher goes on whatever the handler did
                log.exception("JACK transport: the start's handler failed")
        self.at_start = frame == 0
