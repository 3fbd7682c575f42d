"""Small engines with known output, for testing the machinery around engines."""

from __future__ import annotations

import time

import numpy as np

from mrtd.conditioning import Conditioning
from mrtd.engines.base import BaseEngine
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE


class ToneEngine(BaseEngine):
    """A phase-continuous sine; `step_seconds` makes it deliberately slow."""

    name = "tone"

    def __init__(self, freq: float = 220.0, amp: float = 0.5, step_seconds: float = 0.0) -> None:
        super().__init__()
        self.freq, self.amp, self.step_seconds = freq, amp, step_seconds
        self.position = 0
        self.seen: list[Conditioning] = []

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        self.seen.append(conditioning)
        if self.step_seconds:
            time.sleep(self.step_seconds)  # stands in for a model too slow for real time
        t = np.arange(self.position, self.position + FRAME_SAMPLES) / SAMPLE_RATE
        self.position += FRAME_SAMPLES
        mono = (self.amp * np.sin(2 * np.pi * self.freq * t)).astype(np.float32)
        return np.stack([mono, mono], axis=1)

    def reset(self) -> None:
        self.position = 0

    def steady_jump(self) -> float:
        """The largest sample-to-sample step of the undisturbed tone."""
        return 2 * np.pi * self.freq / SAMPLE_RATE * self.amp


class RecordingEngine(ToneEngine):
    """A ToneEngine whose `seen[k]` is the conditioning of frame k (warm-up steps forgotten)."""

    def warm_up(self, steps: int = 4) -> None:
        super().warm_up(steps)
        self.seen.clear()
