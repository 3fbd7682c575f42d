"""MIDI clock in: the tempo and the beat from another device's transport (24 ppqn).

A drum machine or a DAW sends 0xF8 twenty-four times per beat, 0xFA to start
(the next tick is the downbeat), 0xFC to stop, 0xFB to continue where it
stopped, and 0xF2 to move the song position. This class turns that stream
into commands: `SetParam("tempo")` from the tick period and `AlignBeat` from
the tick count. It runs on the MIDI thread and keeps only its own state.

Ticks arrive with jitter: USB and drivers add some, and JACK delivers MIDI
once per period, so a receipt time can be late by up to a period. The period
is therefore the slope of a least-squares line through the last two beats of
tick times (robust to per-tick jitter, unlike the last interval), and the
tempo is only re-sent when it moves by more than a small dead band, so jitter
does not churn the tempo that subscribers see.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Sequence

from mrtd.control.commands import AlignBeat, Command, SetParam
from mrtd.vocabulary.params import PARAMS

PPQN = 24
TICK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
STATUSES = frozenset((TICK, START, CONTINUE, STOP, SONG_POSITION))

WINDOW_TICKS = 2 * PPQN  # fit the period over the last two beats
MIN_TICKS = PPQN // 2  # half a beat before the first estimate
DEAD_BAND_BPM = 0.1  # smaller moves are jitter
GAP_FACTOR = 4.0  # an interval this many periods long is a dropout, not a tempo change


class MidiClock:
    def __init__(self, window: int = WINDOW_TICKS) -> None:
        self.running = False  # following: between start/continue and stop
        self.ticks = 0  # clock ticks received while running (a counter for tests and status)
        self.bpm: float | None = None  # the latest estimate (sent or not)
        self._position = 0  # song position in ticks: the next tick is this one
        self._times: deque[float] = deque(maxlen=window)
        self._sent_bpm: float | None = None
        low, high = PARAMS["tempo"].low, PARAMS["tempo"].high
        self._range = (float(low), float(high))

    def feed(self, message: Sequence[int], at: float, wall: float | None = None) -> list[Command]:
        """One MIDI message received at monotonic time `at` (wall-clock `wall`): the commands it implies."""
        if not message:
            return []
        status = message[0]
        if status == TICK:
            return self._tick(at, wall) if self.running else []
        if status == START:
            self.running = True
            self._position = 0
            self._times.clear()
            return [AlignBeat(0.0, wall, self._sent_bpm, jump=True)]  # the downbeat is now
        if status == CONTINUE:
            self.running = True
            self._times.clear()  # the pause is not a tick interval
            return []
        if status == STOP:
            self.running = False
            return []
        if status == SONG_POSITION and len(message) >= 3:
            sixteenths = (message[1] & 0x7F) | ((message[2] & 0x7F) << 7)
            self._position = sixteenths * PPQN // 4  # takes effect at the next tick (after continue)
        return []

    def _tick(self, at: float, wall: float | None) -> list[Command]:
        times = self._times
        if len(times) >= 2:
            period = (times[-1] - times[0]) / (len(times) - 1)
            if at - times[-1] > GAP_FACTOR * period:  # a dropout: start measuring afresh
                times.clear()
        times.append(at)
        self.ticks += 1
        position = self._position
        self._position += 1
        commands: list[Command] = []
        if len(times) >= MIN_TICKS:
            bpm = 60.0 / (PPQN * _slope(times))
            if math.isfinite(bpm):
                self.bpm = min(max(bpm, self._range[0]), self._range[1])
                if self._sent_bpm is None or abs(self.bpm - self._sent_bpm) > DEAD_BAND_BPM:
                    self._sent_bpm = round(self.bpm, 2)
                    commands.append(SetParam.checked("tempo", self._sent_bpm))
        if position % PPQN == 0:  # on each beat, pull the phase to where the sender is
            commands.append(AlignBeat(position / PPQN, wall, self._sent_bpm))
        return commands


def _slope(times: deque[float]) -> float:
    """Seconds per tick: the least-squares slope of tick time against tick index."""
    n = len(times)
    mean_index = (n - 1) / 2.0
    mean_time = math.fsum(times) / n
    numerator = math.fsum((i - mean_index) * (t - mean_time) for i, t in enumerate(times))
    denominator = n * (n * n - 1) / 12.0  # sum of (i - mean_index)^2
    slope = numerator / denominator
    return slope if slope > 0 else math.nan
