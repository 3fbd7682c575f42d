"""The engine contract: what the generation thread asks of an engine, every frame.

Shared vocabulary, like `Conditioning`: the engines implement it (`engines/base.py`'s
`BaseEngine` does, for every built-in engine) and the runtime drives it (`runtime/generator.py`),
and neither imports the other. An engine turns one frame's `Conditioning` into 40 ms of
48 kHz stereo, float32 `[FRAME_SAMPLES, CHANNELS]` in [-1, 1]. It is called from the
generation thread only, so it needs no locks; only `close` may run on another thread,
once the engine is no longer stepped.

A Protocol, not a base class: anything with these members is an engine to the runtime
(a test's stand-in included). Warm-up, the real-time verdict and step metrics are not part
of it: only the composition root asks for those, and it builds engines from `engines/`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from mrtd.conditioning import Conditioning


@runtime_checkable
class Engine(Protocol):
    """One warm model behind the frame-by-frame contract."""

    name: str  # for logs
    last_step_s: float  # the last step's duration, read by the lateness monitor every frame

    def step(self, conditioning: Conditioning) -> np.ndarray:
        """Make one frame, float32 [FRAME_SAMPLES, CHANNELS]; a reset conditioning resets first."""
        ...

    def reset(self) -> None:
        """Return to the engine's initial (checkpoint) state: after a fault, the next frame starts fresh."""
        ...

    def close(self) -> None:
        """Release resources; the engine is not stepped afterwards (called off the generation thread)."""
        ...

    def describe(self) -> str:
        """One line for logs and /status."""
        ...
