"""Rhythm: the drum patterns of every family, the bass and melody accents on the step grid,
and the pulse that walks the grid in step with the musical clock."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from mrtd.frame import FRAME_SAMPLES

STEPS_PER_BAR = 16  # a pattern is 16 steps: sixteenth notes of a 4/4 bar, or eighths over two bars
STEPS_PER_BEAT = 4


def sixteenth_weight(tempo: float) -> float:
    """How freely the off-beat sixteenths play, from the style's tempo descriptor.

    The clock sets the BPM; the style only picks the feel: a slow, spacious style
    leaves the off-sixteenths silent (an eighth-note pulse), a driving one plays them.
    """
    return min(max((tempo - 0.15) / 0.45, 0.0), 1.0)


# Swing: how late each sixteenth of a beat plays at full swing, in sixteenths. The off-beat
# eighth moves from 1/2 to 2/3 of the beat (a 2:1 triplet feel); the off-sixteenths follow so
# the order of steps never changes.
SWING_DELAY = (0.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0)


# Per-step hit probabilities for three drum intensities (sparse, groove, full) of the plain family.
DRUM_LEVELS = np.array([0.15, 0.5, 0.9])
DRUMS = ("kick", "snare", "ghost", "clap", "hat", "open_hat", "ride")
_Z = [0] * 16
DRUM_TEMPLATES: dict[str, np.ndarray] = {
    "kick": np.array([
        [1, 0, 0, 0, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0.4, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0.2],
    ]),
    "snare": np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0, 0, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0.15],
        [0, 0, 0, 0, 1, 0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0.2, 0],
    ]),
    "ghost": np.array([_Z, _Z, _Z]),
    "clap": np.array([_Z, _Z, _Z]),
    "hat": np.array([
        [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0],
        [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
        [1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7],
    ]),
    "open_hat": np.array([
        [0] * 16,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0],
        [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0],
    ]),
    "ride": np.array([_Z, _Z, _Z]),
}


def _two_bars(rows: dict[str, list[float]]) -> np.ndarray:
    """A family's pattern as [drum, 32 sixteenths]; a one-bar row repeats, a two-bar row stands."""
    out = np.zeros((len(DRUMS), 2 * STEPS_PER_BAR))
    for i, drum in enumerate(DRUMS):
        row = np.asarray(rows.get(drum, [0.0] * STEPS_PER_BAR), dtype=np.float64)
        out[i] = np.tile(row, 2) if len(row) == STEPS_PER_BAR else row
    return out


def _half_time(row: list[float]) -> list[float]:
    """A one-bar row stretched over two bars: every step lands on an eighth."""
    stretched = [0.0] * (2 * STEPS_PER_BAR)
    stretched[::2] = row
    return stretched


# Rhythm families beyond the plain one, blended by softmax weights of their descriptors.
# Probabilities per sixteenth; the off-sixteenths are still thinned by the tempo feel.
FAMILIES: dict[str, np.ndarray] = {
    # Kick on every beat, clap on 2 and 4, open hat on the off-beats, closed hats between.
    "four": _two_bars({
        "kick": [1, 0, 0, 0] * 4,
        "clap": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "hat": [0, 0.9, 0, 0.9] * 4,
        "open_hat": [0, 0, 1, 0] * 4,
    }),
    # The amen: syncopated kicks, snare on 2 and 4 with ghost notes, ride-like eighths.
    "breaks": _two_bars({
        "kick": [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "snare": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "ghost": [0, 0, 0, 0, 0, 0, 0, 0.9, 0, 0.9, 0, 0, 0, 0, 0.5, 0.8,
                  0, 0, 0, 0, 0, 0, 0, 0.9, 0, 0.9, 0, 0, 0, 0.6, 0, 0.9],
        "hat": [1, 0.8, 1, 0.8] * 4,  # sixteenths: the fast surface over a half-time backbeat
        "ride": [0.5, 0, 0, 0, 0, 0, 0, 0] * 2,
    }),
    # Boom-bap at half speed: the whole groove spans two bars, so the pulse heard is half the clock's.
    "halftime": _two_bars({
        "kick": _half_time([1, 0, 0, 0, 0, 0, 0, 0.5, 0, 0, 1, 0, 0, 0, 0, 0]),
        "snare": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        "ghost": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0]),
        "hat": _half_time([1, 0, 0, 0.6, 1, 0, 0, 0.6, 1, 0, 0, 0.6, 1, 0, 0, 0.6]),  # the ghosts swing
        "open_hat": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0]),
    }),
    # Jazz: ride "ding, ding-a ding" (the skip on the swung off-beat of 2 and 4), hi-hat foot
    # on 2 and 4, feathered kick, brushed comping.
    "ride": _two_bars({
        "ride": [1, 0, 0.3, 0, 1, 0, 1, 0, 1, 0, 0.3, 0, 1, 0, 1, 0],
        "hat": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "kick": [0.3, 0, 0, 0, 0, 0, 0, 0, 0.2, 0, 0, 0, 0, 0, 0, 0],
        "ghost": [0, 0, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0],
    }),
    # Metal: a double bass drum on every sixteenth, snare on 2 and 4, ride on the eighths.
    "double": _two_bars({
        "kick": [1, 0.9] * 8,
        "snare": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "ride": [1, 0] * 8,
    }),
}
FAMILY_NAMES = ("plain",) + tuple(FAMILIES)
FAMILY_STACK = np.stack([FAMILIES[name] for name in FAMILY_NAMES[1:]])  # [family, drum, 32]
DRUM_GAIN = {"kick": 0.5, "snare": 0.34, "ghost": 0.14, "clap": 0.3, "hat": 0.15, "open_hat": 0.15, "ride": 0.18}
DRUM_PAN = {"kick": 0.0, "snare": -0.1, "ghost": -0.1, "clap": 0.05, "hat": 0.3, "open_hat": 0.25, "ride": -0.35}
METRIC_WEIGHT = np.array([1.0 if s % 4 == 0 else 0.75 if s % 2 == 0 else 0.4 for s in range(STEPS_PER_BAR)])
# Funk bass: sixteenth syncopations around the one (probabilities per step).
FUNK_BASS = np.array([1, 0, 0.5, 0.4, 0, 0.6, 0, 0.7, 0.8, 0, 0.5, 0.5, 0, 0.7, 0.4, 0])


class Pulse:
    """Where the pattern is: the step grid (sixteenths counted from beat 0) locked to the
    musical clock, walked frame by frame so no step plays twice or is lost."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._beat_end = 0.0  # the beat at the end of the last frame
        self._last_conditioning_beat: float | None = None
        self._next_step: int | None = None  # the next sixteenth to play, counted from beat 0

    def follow(self, beat: float, beats_in_frame: float) -> float:
        """The beat at this frame's start: the musical clock's, or our own when nothing drives it.

        A caller that builds Conditioning by hand leaves `beat` still; then the pulse
        free-runs at `bpm` from where it was, so the engine plays the same either way.
        """
        free_running = beat == self._last_conditioning_beat
        self._last_conditioning_beat = beat
        start = self._beat_end if free_running else beat
        self._beat_end = start + beats_in_frame
        return start

    def _resync(self, start_beat: float) -> int:
        """The next step to play. Small nudges of the clock's phase leave it alone (no step
        plays twice or is lost); after a jump (Tidal's cycle, a transport start, a new Link
        session) it is the first step at the new position, neither replaying nor waiting."""
        step = 1.0 / STEPS_PER_BEAT
        if self._next_step is not None and start_beat - step <= self._next_step * step <= start_beat + 2 * step:
            return self._next_step
        return math.ceil(start_beat * STEPS_PER_BEAT - 1e-9)

    def steps(
        self, start_beat: float, beats_in_frame: float, samples_per_beat: float, swing_amount: float,
    ) -> Iterator[tuple[int, int]]:
        """This frame's steps as (step, sample offset), the off-beats late by the swing (0 .. 1)."""
        next_step = self._resync(start_beat)
        end_beat = start_beat + beats_in_frame
        while (step_beat := (next_step + swing_amount * SWING_DELAY[next_step % STEPS_PER_BEAT]) / STEPS_PER_BEAT) < end_beat:
            offset = min(max(int((step_beat - start_beat) * samples_per_beat), 0), FRAME_SAMPLES - 1)
            yield next_step, offset
            next_step += 1
        self._next_step = next_step
