"""Sustained lateness while playing: steps slower than the frame, noticed, logged (rate-limited), reported.

One late step is a hiccup that the lead hides; most of a second of them is
a machine that cannot keep up, which the listener hears as gaps. The monitor
runs on the generation thread (one call per frame, no allocation) and logs at
most once per `log_every_s` of its clock, so a slow machine does not flood
the journal.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from mrtd.frame import FRAME_SECONDS, FRAMES_PER_SECOND

log = logging.getLogger("mrtd")

WINDOW_FRAMES = FRAMES_PER_SECOND  # judge over the last second of frames
SUSTAINED_FRACTION = 0.5  # more than half of them late: sustained
LOG_EVERY_S = 30.0


class LatenessMonitor:
    def __init__(self, clock: Callable[[], float] = time.monotonic, log_every_s: float = LOG_EVERY_S,
                 window: int = WINDOW_FRAMES) -> None:
        self._clock = clock
        self._log_every_s = log_every_s
        self._late = bytearray(window)  # 1 per late frame, a ring over the last `window` frames
        self._index = 0
        self._late_in_window = 0
        self._last_log: float | None = None
        self.late_frames = 0  # steps longer than one frame, ever
        self.sustained = False  # most of the last second was late
        self.last_step_ms = 0.0
        self.logged = 0
        # Off for an offline render: nobody waits for its frames, so a slow step leaves no gap,
        # and the progress line already says how fast it goes. Counted all the same.
        self.warn = True

    def record(self, step_s: float) -> None:
        late = 1 if step_s > FRAME_SECONDS else 0
        self.last_step_ms = step_s * 1000.0
        self.late_frames += late
        slot = self._index % len(self._late)
        self._late_in_window += late - self._late[slot]
        self._late[slot] = late
        self._index += 1
        filled = min(self._index, len(self._late))
        self.sustained = filled == len(self._late) and self._late_in_window > SUSTAINED_FRACTION * filled
        if self.sustained or (late and step_s > 1.0):  # a step over a second is sustained by itself
            self.sustained = True
            now = self._clock()
            if self.warn and (self._last_log is None or now - self._last_log >= self._log_every_s):
                self._last_log = now
                self.logged += 1
                log.warning("generation is behind real time: %d of the last %d steps over %.0f ms (last %.0f ms); "
                            "the output has gaps. Use a faster device, a smaller model, or mrtd render",
                            self._late_in_window, filled, FRAME_SECONDS * 1000, self.last_step_ms)

    @property
    def steps(self) -> int:
        """Engine steps recorded so far (a rest or a bypass steps nothing)."""
        return self._index

    def describe(self) -> str:
        """For /status: "" when keeping up."""
        if not self.sustained:
            return ""
        return f"behind real time: last step {self.last_step_ms:.0f} ms > {FRAME_SECONDS * 1000:.0f} ms frame"
