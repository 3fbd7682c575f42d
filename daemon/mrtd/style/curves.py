"""Crossfade curves, and a crossfade from one set of weights to another over N frames.

A crossfade moves every prompt's weight from where it is now (`w_from`) to its
target (`w_to`) as progress `t = frame / frames` runs from 0 to 1. Each curve is
a pair of gains (g_from(t), g_to(t)), and a weight at progress t is

    w(t) = g_from(t) * w_from + g_to(t) * w_to

The curves:

- linear:       f(t) = t;                                  g_from = 1 - f, g_to = f
- equal-power:  g_from = cos(pi*t/2),  g_to = sin(pi*t/2)  (g_from^2 + g_to^2 = 1:
                two orthogonal unit embeddings mixed this way keep unit length)
- exponential:  f(t) = (exp(k*t) - 1) / (exp(k) - 1), k = EXPONENTIAL_K = 4;
                g_from = 1 - f, g_to = f  (slow start, fast finish, as an
                exponential fade in decibels sounds)
- s-curve:      f(t) = 3*t^2 - 2*t^3 (smoothstep);        g_from = 1 - f, g_to = f
                (gentle at both ends, fastest in the middle)

Every curve starts exactly at `w_from` (t=0) and ends exactly at `w_to` (t=1).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from mrtd.frame import FRAMES_PER_SECOND

EXPONENTIAL_K = 4.0

GainPair = tuple[float, float]


def _linear(t: float) -> GainPair:
    return 1.0 - t, t


def _equal_power(t: float) -> GainPair:
    angle = 0.5 * math.pi * t
    return math.cos(angle), math.sin(angle)


def _exponential(t: float) -> GainPair:
    shaped = math.expm1(EXPONENTIAL_K * t) / math.expm1(EXPONENTIAL_K)
    return 1.0 - shaped, shaped


def _s_curve(t: float) -> GainPair:
    shaped = t * t * (3.0 - 2.0 * t)
    return 1.0 - shaped, shaped


CURVES: dict[str, Callable[[float], GainPair]] = {
    "linear": _linear,
    "equal-power": _equal_power,
    "exponential": _exponential,
    "s-curve": _s_curve,
}

# Spellings people type in scene files and OSC messages.
_ALIASES = {
    "lin": "linear",
    "equal_power": "equal-power",
    "equalpower": "equal-power",
    "power": "equal-power",
    "exp": "exponential",
    "s_curve": "s-curve",
    "scurve": "s-curve",
    "s": "s-curve",
    "smooth": "s-curve",
}


def curve_name(name: str) -> str:
    """The canonical name of a curve, accepting common aliases; ValueError when unknown."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CURVES:
        raise ValueError(f"unknown crossfade curve {name!r}; choose one of {', '.join(CURVES)}")
    return key


def curve_gains(curve: str, t: float) -> GainPair:
    """(g_from, g_to) of `curve` at progress t in [0, 1] (clamped)."""
    return CURVES[curve_name(curve)](min(1.0, max(0.0, t)))


def seconds_to_frames(seconds: float) -> int:
    """Frames a crossfade of `seconds` lasts (rounded; 0 means jump)."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds}")
    return round(seconds * FRAMES_PER_SECOND)


def beats_to_frames(beats: float, bpm: float) -> int:
    """Frames that `beats` last at `bpm` (a bar is beats_per_bar beats: the caller multiplies)."""
    if bpm <= 0:
        raise ValueError(f"tempo must be positive, got {bpm}")
    return seconds_to_frames(beats * 60.0 / bpm)


class Crossfade:
    """A timed path from `start` weights to `target` weights (arrays over the same slots).

    `step(out)` advances one frame and writes that frame's weights into `out`;
    after `frames` steps `out` equals `target` exactly and `done` is true.
    `weights_at(frame, out)` evaluates any frame without advancing, so a new
    crossfade can start from wherever this one is (no jump).
    """

    def __init__(self, start: np.ndarray, target: np.ndarray, frames: int, curve: str = "linear") -> None:
        if frames < 1:
            raise ValueError(f"a crossfade lasts at least one frame, got {frames} (use a jump instead)")
        if start.shape != target.shape:
            raise ValueError(f"start and target shapes differ: {start.shape} vs {target.shape}")
        self.curve = curve_name(curve)
        self._gains = CURVES[self.curve]
        self.start = np.array(start, dtype=np.float64)
        self.target = np.array(target, dtype=np.float64)
        self.frames = frames
        self.frame = 0

    @property
    def done(self) -> bool:
        return self.frame >= self.frames

    @property
    def progress(self) -> float:
        return self.frame / self.frames

    def weights_at(self, frame: int, out: np.ndarray) -> np.ndarray:
        if frame >= self.frames:
            out[:] = self.target
            return out
        gain_from, gain_to = self._gains(frame / self.frames)
        np.multiply(self.start, gain_from, out=out)
        out += gain_to * self.target
        return out

    def step(self, out: np.ndarray) -> np.ndarray:
        """Advance one frame and write its weights into `out`."""
        if self.frame < self.frames:
            self.frame += 1
        return self.weights_at(self.frame, out)

    def pin(self, slot: int, value: float) -> None:
        """Hold one slot at `value` for the rest of the fade (a prompt set while fading)."""
        self.start[slot] = value
        self.target[slot] = value

    def grow(self, capacity: int) -> None:
        """Extend to more slots; new slots hold weight 0."""
        extra = capacity - len(self.start)
        if extra > 0:
            self.start = np.concatenate([self.start, np.zeros(extra)])
            self.target = np.concatenate([self.target, np.zeros(extra)])
