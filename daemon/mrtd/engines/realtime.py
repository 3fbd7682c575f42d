"""Can this engine keep up with real time here? The verdict and the words for it.

Warm-up steps are timed (the first one pays one-off compilation and is left
out); a model whose p99 warm-up step exceeds the 40 ms frame budget cannot play
live on this machine. The verdict names the measured step, the real-time
factor and the hardware, and where to go instead (offline render).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mrtd.frame import FRAME_SECONDS

FRAME_BUDGET_MS = FRAME_SECONDS * 1000.0
RENDER_HINT = "render it offline instead: mrtd render SCENE -o out.wav --engine mrt2"
# A wider margin (frames start that much further ahead of the listener) carries a model whose
# slowest steps overrun the frame by up to the margin, as long as its median keeps the ring
# filling. LIVE_MEDIAN_SHARE leaves a fifth of every frame to catch up after a slow step.
LIVE_MEDIAN_SHARE = 0.8
REALTIME_HARDWARE = ("real time needs Apple Silicon or an NVIDIA GPU (MLX's cuda12/cuda13 extra, or the jax extra "
                     "with jax[cuda12])")


@dataclass(frozen=True)
class Verdict:
    """What warm-up measured, and whether it fits the frame budget."""

    steps: int
    p50_ms: float
    p99_ms: float
    hardware: str

    @property
    def keeps_up(self) -> bool:
        return self.p99_ms <= FRAME_BUDGET_MS

    def fits_margin(self, margin_ms: float) -> bool:
        """Whether a run with `margin_ms` of margin plays it without gaps: it keeps up, or its p99
        step stays within a frame plus the margin and its median under LIVE_MEDIAN_SHARE of a frame."""
        if self.keeps_up:
            return True
        return self.p50_ms <= LIVE_MEDIAN_SHARE * FRAME_BUDGET_MS and self.p99_ms <= FRAME_BUDGET_MS + margin_ms

    @property
    def realtime_factor(self) -> float:
        """Audio made per second of compute, at the median step (>1: faster than real time)."""
        return FRAME_BUDGET_MS / self.p50_ms if self.p50_ms > 0 else float("inf")

    def describe(self) -> str:
        return (f"p99 step {self.p99_ms:.1f} ms (median {self.p50_ms:.1f} ms) over {self.steps} warm-up steps "
                f"> {FRAME_BUDGET_MS:.0f} ms frame budget, {self.realtime_factor:.3f}x real time on {self.hardware}")


def slow_model_warning(model: str, verdict: Verdict, smallest: str) -> str | None:
    """What a model engine logs and shows when warm-up says it cannot keep up here (None when it can):
    the measurement, and the smaller model or the offline render to turn to."""
    if verdict.keeps_up:
        return None
    if model.startswith(smallest):  # mrt2_small and its variants (mrt2_small_8bit, ...)
        advice = f"{smallest} is already the smallest model; {RENDER_HINT}"
    else:
        advice = f"try the smaller model {smallest} (--model {smallest}), or {RENDER_HINT}"
    return f"model {model} is not real-time on this machine: {verdict.describe()}; {advice}"


def judge(durations_s: Sequence[float], hardware: str) -> Verdict:
    """Verdict from warm-up step durations in seconds (the first, compiling, step is dropped when there are more)."""
    measured = np.asarray(durations_s[1:] if len(durations_s) > 1 else durations_s, dtype=np.float64) * 1000.0
    if measured.size == 0:
        return Verdict(0, 0.0, 0.0, hardware)
    return Verdict(int(measured.size), float(np.percentile(measured, 50)), float(np.percentile(measured, 99)), hardware)


def cpu_description() -> str:
    """e.g. "CPU x86_64, 2 cores"."""
    return f"CPU {platform.machine() or 'unknown'}, {os.cpu_count() or '?'} cores"
