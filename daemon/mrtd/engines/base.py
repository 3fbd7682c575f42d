"""The base of every built-in engine: warm-up, a timed step, reset, close, metrics.

`BaseEngine` implements the engine contract (`mrtd.engine.Engine`, the shared vocabulary
the runtime drives): an engine turns one frame's `Conditioning` into 40 ms of 48 kHz
stereo, float32 `[1920, 2]` in [-1, 1], called from the generation thread only, so it
needs no locks. `step` is timed here, once, for every engine; warm-up judges whether it
keeps up with real time, which the composition root asks before it plays live.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mrtd.conditioning import Conditioning
from mrtd.engines.realtime import Verdict, cpu_description, judge
from mrtd.engines.state import EngineState, StateCapture, StateError, check_fits
from mrtd.frame import FRAME_SECONDS


@dataclass(frozen=True)
class StepMetrics:
    """Step-time figures in milliseconds over a recent window of frames."""

    steps: int
    last_ms: float
    mean_ms: float
    p99_ms: float

    @property
    def realtime_factor(self) -> float:
        """Audio seconds made per second of compute (>1 is faster than real time)."""
        return FRAME_SECONDS * 1000.0 / self.mean_ms if self.mean_ms > 0 else float("inf")


class StepTimer:
    """Keeps the last `window` step durations in a preallocated array."""

    def __init__(self, window: int = 1000) -> None:
        self._durations = np.zeros(window, dtype=np.float64)
        self._count = 0

    def record(self, seconds: float) -> None:
        self._durations[self._count % len(self._durations)] = seconds
        self._count += 1

    def metrics(self) -> StepMetrics:
        n = min(self._count, len(self._durations))
        if n == 0:
            return StepMetrics(0, 0.0, 0.0, 0.0)
        recent = self._durations[:n] * 1000.0
        last = self._durations[(self._count - 1) % len(self._durations)] * 1000.0
        return StepMetrics(self._count, float(last), float(recent.mean()), float(np.percentile(recent, 99)))


class BaseEngine(ABC):
    """One warm model behind the frame-by-frame contract (`mrtd.engine.Engine`), timed and judged."""

    name: str = "engine"
    warmup_steps: int = 4
    backend: str = ""  # what steps a model engine: mlx | jax (engines/backends.py); "" for the built-in synth
    backend_note: str = ""  # why that backend plays (set where the backend is chosen)

    def __init__(self) -> None:
        self._timer = StepTimer()
        self.clock: Callable[[], float] = time.perf_counter  # tests inject a clock to play a slow machine
        self.last_step_s = 0.0  # the last step's duration, read by the lateness monitor every frame
        self.verdict: Verdict | None = None  # what warm-up measured
        self.frames_made = 0  # steps since the engine was built (a loaded state brings its own count)

    def warm_up(self, steps: int | None = None) -> None:
        """Run timed throw-away steps so the first real frame is not slow, judge them, then reset."""
        durations = []
        for _ in range(steps or self.warmup_steps):
            started = self.clock()
            self._step(Conditioning())
            durations.append(self.clock() - started)
        self.reset()
        self.verdict = judge(durations, self.hardware())

    def hardware(self) -> str:
        """What runs the steps, in words (for the real-time verdict and /status)."""
        return cpu_description()

    def step(self, conditioning: Conditioning) -> np.ndarray:
        """Make one frame: float32 [1920, 2]."""
        started = self.clock()
        if conditioning.reset:
            self.reset()
        frame = self._step(conditioning)
        self.frames_made += 1
        self.last_step_s = self.clock() - started
        self._timer.record(self.last_step_s)
        return frame

    @abstractmethod
    def _step(self, conditioning: Conditioning) -> np.ndarray:
        """Engine-specific generation of one frame."""

    @abstractmethod
    def reset(self) -> None:
        """Return to the engine's initial (checkpoint) state."""

    def close(self) -> None:
        """Release resources; the engine is not used afterwards."""

    # -- state: saved and loaded (banks, the journal's engine state; engines/state.py) --------
    model_name: str = ""  # the model a state belongs to ("" for an engine without one: the synth)
    loaded_bank: int | None = None  # the bank a swap loaded into it (0: back to factory; core/banks.py)
    loaded_bank_digest: str | None = None  # which save of that bank (engines/state.py read_with_digest)

    def capture_state(self) -> StateCapture:
        """Generation thread, at a frame boundary: a cheap copy of everything the next frames
        depend on; calling the result (on any thread) gives it as numpy arrays. StateError when
        the engine cannot save its state."""
        raise StateError(f"the {self.name} engine cannot save its state")

    def save_state(self) -> EngineState:
        """The state now, as numpy arrays (capture and conversion in one; for a stopped engine)."""
        return self.capture_state()()

    def load_state(self, state: EngineState) -> None:
        """Continue from `state` (an engine not being stepped: before start, or a standby copy):
        the next frames are those that followed the save. StateError when it does not fit."""
        check_fits(state, self.name, self.model_name, self.state_fingerprint())
        self._load_state(state)
        self.frames_made = state.frames

    def _load_state(self, state: EngineState) -> None:
        raise StateError(f"the {self.name} engine cannot load a state")

    def state_fingerprint(self) -> str:
        """What a state must match to fit this engine (engines/state.py `fingerprint`)."""
        raise StateError(f"the {self.name} engine has no state to save")

    def state_limit_bytes(self) -> int:
        """The largest state file this engine reads (its own state's size and the header's room)."""
        raise StateError(f"the {self.name} engine has no state to load")

    def metrics(self) -> StepMetrics:
        return self._timer.metrics()

    def describe(self) -> str:
        """One line for logs and /status."""
        return self.name
