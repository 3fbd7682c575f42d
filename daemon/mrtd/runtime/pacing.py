"""How far ahead of the listener the next frame must start: what making it takes, plus a margin.

The runner (runtime/runner.py) starts each frame just in time: when the audio still ahead of
the listener falls to the least the playout needs (`Playout.least_ahead_s`: the device's
latency and what the ring holds at the callback that would need the frame) plus `lead_s()`. That is the measured cost of making a frame
plus a margin, in seconds, not whole frames ahead.

The cost of a frame is measured by the runner on the audio clock: from the moment the frame
should have started (so a late wake-up counts, and a thread kept from the GIL or the CPU) to the
moment it is written; `step_s` is the largest over the last WINDOW_FRAMES frames the engine
stepped (a rest or a bypass costs nothing and would tell nothing). A machine's hiccups are rare
and come back: the largest of the last 20 s is the percentile that keeps the next one in hand,
and a quiet machine forgets them in 20 s. (The third largest was tried: a command then waited
about 2 ms less after a hiccup, and the JACK bench underran once in four runs at `low`, where the
largest gave none in ten.) Until the window has seen a machine for that long, what the runner
assumes a step may take at first counts too (a warm-up's steps, on a thread nobody else wanted
yet, say little of what the machine does to it while it plays).

The margin covers what the window has not seen: a frame past its largest. How far past one may
go depends on how much the costs wander, so the margin is never less than WANDER times the distance
from the window's median cost to its second largest (`wander_s`; one hiccup already raises the step,
the largest, and says nothing of the tail): on a quiet machine that is a millisecond or so and the
configured margin rules; under a flood of OSC on a busy one (costs of 3 ms that often take 6 to 8)
it rules, before anything goes wrong. It widens by itself when a frame
lands with less than NEAR_MISS of the margin left, and when the playout underruns or the engine
fails a step (at once, twice as wide: a failed step resets the engine and may load another beside
it); each at most once a second, up to MAX_WIDENING_S over the configured margin; and it narrows
back slowly: halfway every NARROW_AFTER_FRAMES frames without trouble. Each change is logged once.
Runs on the generation thread: no lock, one small array, logging through the queue handler.
"""

from __future__ import annotations

import logging

import numpy as np

from mrtd.frame import FRAMES_PER_SECOND

log = logging.getLogger("mrtd")

WINDOW_FRAMES = 20 * FRAMES_PER_SECOND  # the step is the largest cost of the last 20 s of frames
NEAR_MISS = 0.25  # a frame written with less than a quarter of the margin left widens it
WIDEN_EVERY_FRAMES = FRAMES_PER_SECOND  # near misses widen at most once a second
NEAR_MISS_WIDENING = 1.5
UNDERRUN_WIDENING = 2.0
MIN_WIDENING_S = 0.002  # a margin of 0 still widens
MAX_WIDENING_S = 0.25
NARROW_AFTER_FRAMES = 30 * FRAMES_PER_SECOND  # 30 s without trouble: halfway back
NARROWED_WITHIN_S = 0.0005  # closer than this to the configured margin: back at it
WANDER = 2.0  # the margin is at least twice the distance from the median cost to the second largest
WANDER_AFTER_FRAMES = FRAMES_PER_SECOND  # measured frames before their wander says anything


class Pacing:
    def __init__(self, margin_s: float, first_step_s: float = 0.0, window: int = WINDOW_FRAMES) -> None:
        """`margin_s`: the configured margin; `first_step_s`: what making a frame is assumed to
        take until the window has measured it (its first entry, forgotten after `window` frames)."""
        if not 0.0 <= margin_s:
            raise ValueError(f"the margin must be 0 s or more, got {margin_s!r}")
        self.base_margin_s = margin_s
        self._margin_s = margin_s  # the configured margin, widened after trouble
        self.wander_s = 0.0  # WANDER x (second largest - median) of the measured costs in the window
        self._median_s = self._second_s = 0.0
        self._trouble = ""  # why the margin was widened after trouble ("" when it was not)
        self._last_wander_log = -(1 << 62)
        self._costs = np.zeros(window, dtype=np.float64)
        self._costs[0] = max(0.0, first_step_s)
        self._recorded = 1
        self._step_s = float(self._costs[0])
        self._frames = 0  # frames seen (stepped or not): the clock widening and narrowing go by
        self._last_change = -(1 << 62)
        self._last_trouble = -(1 << 62)
        self._underruns = 0
        self.widenings = 0
        self.near_misses = 0

    @property
    def margin_s(self) -> float:
        """The margin now: the configured one, widened after trouble, or what the costs' wander asks
        for, whichever is wider."""
        return max(self._margin_s, self.wander_s)

    @property
    def reason(self) -> str:
        """Why the margin is wider than configured ("" when it is not)."""
        if self.wander_s > self._margin_s:
            return self._wander_reason()
        return self._trouble

    def _wander_reason(self) -> str:
        return (f"steps wander: {self._median_s * 1000:.1f} ms typically, {self._second_s * 1000:.1f} ms at the "
                f"second largest of the last {len(self._costs) // FRAMES_PER_SECOND} s")

    @property
    def step_s(self) -> float:
        """What making a frame took lately, at most (seconds): the largest cost of the window (and
        what was assumed at first, until the window has forgotten it)."""
        return self._step_s

    @property
    def settled(self) -> bool:
        """The window holds measured frames only (the first assumption is forgotten)."""
        return self._recorded > len(self._costs)

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
            self._measure()
            if slack_s < NEAR_MISS * self.margin_s or slack_s < 0.0:
                self.near_misses += 1
                if self._frames - self._last_change >= WIDEN_EVERY_FRAMES:
                    self._widen(NEAR_MISS_WIDENING, f"a frame was written {slack_s * 1000:.1f} ms before it was needed")
                    return
        if self._frames - self._last_change >= NARROW_AFTER_FRAMES and self._margin_s > self.base_margin_s:
            self._narrow()

    def _measure(self) -> None:
        """The step (the largest measured cost, or what was assumed at first while the window has not
        forgotten it) and the wander, WANDER x (second largest - median) of the measured costs; the
        wander is logged when it rules the margin, at most once per NARROW_AFTER_FRAMES."""
        window = len(self._costs)
        settled = self._recorded > window
        measured = self._costs if settled else self._costs[1 : self._recorded]
        assumed = 0.0 if settled else float(self._costs[0])
        count = len(measured)
        if count < WANDER_AFTER_FRAMES:
            self._step_s = max(assumed, float(measured.max()))
            return
        ranked = np.partition(measured, (count // 2, count - 2, count - 1))
        self._step_s = max(assumed, float(ranked[-1]))
        self._median_s, self._second_s = float(ranked[count // 2]), float(ranked[-2])
        self.wander_s = WANDER * (self._second_s - self._median_s)
        if self.wander_s > self._margin_s and self._frames - self._last_wander_log >= NARROW_AFTER_FRAMES:
            self._last_wander_log = self._frames
            log.info("latency margin %.1f ms (configured %.1f ms): %s", self.wander_s * 1000,
                     self.base_margin_s * 1000, self._wander_reason())

    @property
    def underruns(self) -> int:
        """The playout's underrun count as last seen."""
        return self._underruns

    def underruns_seen(self, total: int, how: str = "") -> None:
        """The playout's underrun count now: a new one widens the margin at once. `how`: what the
        frame it waited for did (logged with the widening)."""
        if total > self._underruns:
            self._underruns = total
            self.trouble(f"the playout underran ({how})" if how else "the playout underran")

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
        self._margin_s = wider
        self.widenings += 1
        self._trouble = why
        log.warning("latency margin widened to %.1f ms (%s; steps up to %.1f ms lately); it narrows back to %.1f ms "
                    "after %d s without trouble", wider * 1000, why, self._step_s * 1000, self.base_margin_s * 1000,
                    NARROW_AFTER_FRAMES // FRAMES_PER_SECOND)

    def _narrow(self) -> None:
        narrower = self.base_margin_s + (self._margin_s - self.base_margin_s) / 2.0
        if narrower - self.base_margin_s < NARROWED_WITHIN_S:
            narrower = self.base_margin_s
            self._trouble = ""
        self._margin_s = narrower
        self._last_change = self._frames
        log.info("latency margin narrowed to %.1f ms (configured %.1f ms)", narrower * 1000, self.base_margin_s * 1000)
