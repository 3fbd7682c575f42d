"""Live control state. One writer: the generation thread, at frame boundaries.

Inputs on other threads never touch this object directly; they `submit`
commands, which the generation thread applies before building each frame's
conditioning.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM, Conditioning
from mrtd.control.params import PARAMS

Command = Callable[["ControlState"], None]


class ControlState:
    def __init__(self) -> None:
        self.values: dict[str, float | int | bool] = {name: p.default for name, p in PARAMS.items()}
        self.style_embedding = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        self.notes = np.full(128, -1, dtype=np.int8)
        self._reset_pending = False
        self._inbox: deque[Command] = deque()  # append/popleft are thread-safe

    # -- any thread --------------------------------------------------------
    def submit(self, command: Command) -> None:
        self._inbox.append(command)

    # -- generation thread -------------------------------------------------
    def apply_pending(self) -> int:
        applied = 0
        while self._inbox:
            self._inbox.popleft()(self)
            applied += 1
        return applied

    def set(self, name: str, value: object) -> None:
        self.values[name] = PARAMS[name].coerce(value)

    def request_reset(self) -> None:
        self._reset_pending = True

    def frame_conditioning(self) -> Conditioning:
        """A fresh Conditioning for the next frame (engines may keep a reference)."""
        v = self.values
        conditioning = Conditioning(
            style_embedding=self.style_embedding.copy(),
            notes=self.notes.copy(),
            drums=int(v["drums"]),
            cfg_style=float(v["cfg_style"]),
            cfg_notes=float(v["cfg_notes"]),
            cfg_drums=float(v["cfg_drums"]),
            temperature=float(v["temperature"]),
            top_k=int(v["top_k"]),
            seed=int(v["seed"]),
            reset=self._reset_pending,
        )
        self._reset_pending = False
        return conditioning
