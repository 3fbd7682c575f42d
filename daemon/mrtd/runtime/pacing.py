"""How far ahead of the listener the next frame must start: what making it takes, plus a margin.

The runner (runtime/runner.py) starts each frame just in time: when the audio still ahead of
the listener falls to the least the playout needs (`Playout.least_ahead_s`: the device's
latency, its block, the reserve) plus `lead_s()`. That is the measured cost of making a frame
plus a margin, in seconds, not whole frames ahead.

The cost of a frame is measured by the runner on the audio clock: from the moment the frame
should have started (so a late wake-up counts) to the moment it is written; `step_s` is its
99th percentile over the last WINDOW_FRAMES frames the engine stepped (a rest or a bypass costs
nothing and would tell nothing), at least the engine's warm-up figure until enough are known.

The margin covers what a percentile cannot: a frame past it. It widens by itself when a frame
lands with less than NEAR_MISS of the margin left, and when the playout underruns or the engine
fails a step (at once, twice as wide: a failed step resets the engine and may load another beside
it); each at most once a second, up to MAX_WIDENING_S over the configured margin; and it narrows
back slowly: halfway every NARROW_AFTER_FRAMES frames without trouble. Each change is logged once.
Runs on the generation thread: no lock, one small array, logging through the queue handler.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from mrtd.frame import FRAMES_PER_SECOND

log = logging.getLogger("mrtd")

WINDOW_FRAMES = 10 * FRAMES_PER_SECOND  # the step's percentile looks at the last 10 s of frames
STEP_PERCENTILE = 99.0
KNOWN_AFTER_FRAMES = FRAMES_PER_SECOND  # before a second of frames, the warm-up figure counts too
NEAR_MISS = 0.25  # a frame written with less than a quarter of the margin left widens it
WIDEN_EVERY_FRAMES = FRAMES_PER_SECOND  # near misses widen at most once a second
NEAR_MISS_WIDENING = 1.5
UNDERRUN_WIDENING = 2.0
MIN_WIDENING_S = 0.002  # a margin of 0 still widens
MAX_WIDENING_S = 0.25
NARROW_AFTER_FRAMES = 30 * FRAMES_PER_SECOND  # 30 s without trouble: halfway back
NARROWED_WITHIN_S = 0.0005  # closer than this to the configured margin: back at it


class Pacing:
    def __init__(self, margin_s: float, step_hint_s: float = 0.0, window: int = WINDOW_FRAMES) -> None:
        """`margin_s`: the configured margin; `step_hint_s`: what making a frame is expected to
        take before any is measured (the engine's warm-up p99)."""
        if not 0.0 <= margin_s:
            raise ValueError(f"the margin must be 0 s or more, got {margin_s!r}")
        self.base_margin_s = margin_s
        self.margin_s = margin_s
        self.step_hint_s = max(0.0, step_hint_s)
        self._costs = np.zeros(window, dtype=np.float64)
        self._recorded = 0
        self._step_s = self.step_hint_s
        self._frames = 0  # frames seen (stepped or not): the clock widening and narrowing go by
        self._last_change = -(1 << 62)
        self._last_trouble = -(1 << 62)
        self._underruns = 0
        self.widenings = 0
        self.near_misses = 0
        self.reason = ""  # why the margin is wider than configured ("" when it is not)

    @property
    def step_s(self) -> float:
        """The high percentile of what making a frame took lately (seconds)."""
        return self._step_s

    def lead_s(self, extra_step_s: float = 0.0) -> float:
        """How much audio must still be ahead, beyond the playout's least, when a frame starts.
        `extra_step_s`: what a frame will cost beyond the measured (a model swap's second engine)."""
        return self._step_s + extra_step_s + self.margin_s

    def frame_made(self, cost_s: float | None, slack_s: float) -> None:
        """One frame written. `cost_s`: what it took, from when it should have started to its write,
        None when it tells nothing of the engine (nothing stepped, or nothing played; `slack_s` is
        not looked at then); `slack_s`: how much audio was ahead beyond the playout's least when it
        was written."""
        self._frames += 1
        if cost_s is not None:
            window = len(self._costs)
            self._costs[self._recorded % window] = cost_s
            self._recorded += 1
            known = min(self._recorded, window)
            rank = known - math.ceil(known * (100.0 - STEP_PERCENTILE) / 100.0)
            measured = float(np.partition(self._costs[:known], rank)[rank])
            self._step_s = measured if self._recorded >= KNOWN_AFTER_FRAMES else max(measured, self.step_hint_s)
            if slack_s < NEAR_MISS * self.margin_s or slack_s < 0.0:
                self.near_misses += 1
                if self._frames - self._last_change >= WIDEN_EVERY_FRAMES:
                    self._widen(NEAR_MISS_WIDENING, f"a frame was written {slack_s * 1000:.1f} ms before it was needed")
                    return
        if self._frames - self._last_change >= NARROW_AFTER_FRAMES and self.margin_s > self.base_margin_s:
            self._narrow()

    def underruns_seen(self, total: int) -> None:
        """The playout's underrun count now: a new one widens the margin at once."""
        if total > self._underruns:
            self._underruns = total
            self.trouble("the playout underran")

    def trouble(self, why: str) -> None:
        """Something went wrong (an underrun, a failed step, which resets the engine and may load
        another): twice the margin at once; a second's worth of trouble widens it once."""
        if self._frames - self._last_trouble >= WIDEN_EVERY_FRAMES:
            self._last_trouble = self._frames
            self._widen(UNDERRUN_WIDENING, why)

    def _widen(self, factor: float, why: str) -> None:
        ceiling = self.base_margin_s + MAX_WIDENING_S
        wider = min(ceiling, max(self.margin_s * factor, self.margin_s + MIN_WIDENING_S))
        self._last_change = self._frames
        if wider <= self.margin_s:
            return
        self.margin_s = wider
        self.widenings += 1
        self.reason = why
        log.warning("latency margin widened to %.1f ms (%s; steps %.1f ms at p99); it narrows back to %.1f ms "
                    "after %d s without trouble", wider * 1000, why, self._step_s * 1000, self.base_margin_s * 1000,
                    NARROW_AFTER_FRAMES // FRAMES_PER_SECOND)

    def _narrow(self) -> None:
        narrower = self.base_margin_s + (self.margin_s - self.base_margin_s) / 2.0
        if narrower - self.base_margin_s < NARROWED_WITHIN_S:
            narrower = self.base_margin_s
            self.reason = ""
        self.margin_s = narrower
        self._last_change = self._frames
        log.info("latency margin narrowed to %.1f ms (configured %.1f ms)", narrower * 1000, self.base_margin_s * 1000)
