"""Maps wall-clock times (OSC timetags) onto frames, through the output's own clock.

The playout records, at each callback, which ring sample it is handing out
and the output-clock time that sample reaches the listener (believing the
earliest of the last callbacks: a late one does not move the device's grid;
`Playout.heard_origin`). Frame k occupies
ring samples [k * 1920, (k + 1) * 1920) at 48 kHz, and in general starts at
round(k * 1920 * rate / 48000) when the device runs at another rate (the
resampler keeps that alignment), so the frame heard at a given time follows
directly. Wall time and output time are related by reading both
clocks now: they are different clocks (PortAudio's stream time, or the
monotonic clock for the file and null sinks).
"""

from __future__ import annotations

import time
from typing import Callable

from mrtd.audio.playout import Playout


class FrameClock:
    def __init__(self, playout: Playout, output_time: Callable[[], float], wall_time: Callable[[], float] = time.time) -> None:
        self._playout = playout
        self._output_time = output_time
        self._wall_time = wall_time

    def output_time_of(self, wall: float) -> float:
        return wall - self._wall_time() + self._output_time()

    def frame_of(self, wall: float) -> float:
        """The (fractional) frame position heard at wall time `wall`; nan before audio starts."""
        read_position, heard_at = self._playout.clock
        if heard_at == 0.0 and read_position == 0:
            return float("nan")
        return self._playout.position_heard_at(self.output_time_of(wall)) / self._playout.samples_per_frame

    def wall_time_of_frame(self, frame: int) -> float:
        """When frame `frame` starts to be heard, in wall-clock seconds."""
        heard = self._playout.heard_at(self._playout.frame_start(frame))
        return heard - self._output_time() + self._wall_time()
