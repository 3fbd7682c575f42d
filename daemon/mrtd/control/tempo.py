"""The musical clock: where the music is in beats and bars, frame by frame.

MRT2 has no tempo input, but performers live on a grid. The clock counts
beats at the current tempo, advancing once per frame on the generation
thread, so "the next bar" is always a frame number. External sources (Link,
MIDI clock, Tidal's cps and cycle) set the tempo and pull the phase into line.
"""

from __future__ import annotations

import math

from mrtd.frame import FRAME_SECONDS
from mrtd.vocabulary.values import MAX_BEAT

# An external beat position closer than this (in beats) is reached by nudging the phase; further, by a jump.
ALIGN_TOLERANCE = 0.25
NUDGE_RATE = 0.1  # at most 10% faster or slower while absorbing a phase error


class MusicalClock:
    def __init__(self, bpm: float = 120.0, meter: int = 4) -> None:
        self.bpm = bpm
        self.meter = meter
        self.beat = 0.0  # beats since the clock started, at the start of the current frame
        self._correction = 0.0  # beats still to absorb from a small alignment (see align)

    @property
    def beats_per_frame(self) -> float:
        return self.bpm / 60.0 * FRAME_SECONDS

    def advance(self) -> None:
        step = self.beats_per_frame
        if self._correction:
            # Absorb a small phase error by running at most NUDGE_RATE faster or slower: the
            # beat never steps back, so nothing on the grid (a synth onset, a quantized cue)
            # fires twice or is skipped.
            limit = step * NUDGE_RATE
            nudge = min(max(self._correction, -limit), limit)
            self._correction -= nudge
            step += nudge
        self.beat += step

    @property
    def bar(self) -> int:
        """1-based bar number."""
        return int(self.beat // self.meter) + 1

    @property
    def beat_in_bar(self) -> int:
        """1-based beat within the bar."""
        return int(self.beat % self.meter) + 1

    @property
    def phase(self) -> float:
        """0..1 within the beat."""
        return self.beat % 1.0

    def frames_until(self, unit: str, count: int = 1) -> int:
        """Frames from the current one to the frame in which the count-th boundary ahead falls.

        "next bar" from the middle of bar 3 is the start of bar 4; from the very start
        of bar 3 it is also bar 4 (a cue sent on the downbeat waits for the next one).
        """
        size = self.meter if unit == "bar" else 1
        target = (math.floor(self.beat / size + 1e-9) + count) * size
        return max(0, math.floor((target - self.beat) / self.beats_per_frame + 1e-9))

    def frames_for(self, length: float, unit: str) -> int:
        """A duration in seconds, beats or bars, in frames at the current tempo."""
        if unit == "s":
            seconds = length
        else:
            seconds = length * (self.meter if unit == "bar" else 1) * 60.0 / self.bpm
        return round(seconds / FRAME_SECONDS)

    def align(self, beat: float, tolerance: float = ALIGN_TOLERANCE) -> bool:
        """Pull the clock to an external beat position (Link, MIDI clock, Tidal's cycle).

        Within `tolerance` beats the error is absorbed over the next frames (the phase is
        nudged, staying continuous); beyond it, or with tolerance 0, the clock jumps there
        (a new session, a transport start). Returns True when it jumped.
        """
        if not -MAX_BEAT <= beat <= MAX_BEAT:  # every source checks it (vocabulary/values.py); the clock too
            return False
        error = beat - self.beat
        if abs(error) > tolerance or tolerance <= 0.0:
            self.beat = beat
            self._correction = 0.0
            return True
        self._correction = error  # the latest measurement replaces any older one
        return False
