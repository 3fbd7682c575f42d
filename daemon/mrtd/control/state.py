"""Live control state. One writer: the generation thread, at frame boundaries.

Inputs on other threads never touch this object's fields; they `submit`
commands with an optional due time (wall-clock seconds, `time.time()` scale).
At each frame boundary the generation thread moves submitted commands into a
schedule keyed by frame, applies the ones due (coalescing continuous
controls to the last value), and builds the frame's conditioning.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from typing import TYPE_CHECKING, Callable

from mrtd.conditioning import Conditioning
from mrtd.control.commands import Command
from mrtd.control.notes import NoteTracker
from mrtd.control.params import PARAMS

if TYPE_CHECKING:
    from mrtd.style.space import StyleSpace


def default_style_space() -> "StyleSpace":
    from mrtd.style.quantizer import BuiltinQuantizer
    from mrtd.style.space import StyleSpace

    return StyleSpace(BuiltinQuantizer())


class ControlState:
    def __init__(self, style: "StyleSpace | None" = None) -> None:
        self.values: dict[str, float | int | bool] = {name: p.default for name, p in PARAMS.items()}
        self.style = style if style is not None else default_style_space()
        self.notes = NoteTracker()
        self.prompt_texts: dict[str, str] = {}
        self.axes: dict[str, float] = {}
        self.xy: tuple[float, float] | None = None
        self.scene: str | None = None
        self.cue: str | None = None
        self.changed: set[str] = set()  # what moved since the last frame: feedback pushes these
        self.frame = 0  # the frame being built
        self.applied = 0
        self.late = 0  # timed commands that arrived after their frame was made
        self.coalesced = 0
        # Maps a wall-clock time to a (fractional) frame position; set by the runtime.
        self.frame_of: Callable[[float], float] | None = None
        self._inbox: deque[tuple[float | None, Command]] = deque()  # append/popleft are thread-safe
        self._schedule: list[tuple[int, int, Command]] = []
        self._order = itertools.count()
        self._reset_pending = False

    # -- any thread --------------------------------------------------------
    def submit(self, command: Command, due: float | None = None) -> None:
        """Queue `command` for the frame heard at wall time `due` (None: the next frame)."""
        self._inbox.append((due, command))

    # -- generation thread -------------------------------------------------
    def begin_frame(self, frame: int) -> None:
        """Apply everything due at or before `frame`."""
        self.frame = frame
        while self._inbox:
            due, command = self._inbox.popleft()
            due_frame = frame
            if due is not None and self.frame_of is not None:
                position = self.frame_of(due)
                if math.isfinite(position):
                    due_frame = math.floor(position)
                    if due_frame < frame:
                        self.late += 1
            heapq.heappush(self._schedule, (max(due_frame, frame), next(self._order), command))
        if not self._schedule or self._schedule[0][0] > frame:
            return
        due_now: list[Command] = []
        while self._schedule and self._schedule[0][0] <= frame:
            due_now.append(heapq.heappop(self._schedule)[2])
        # Continuous controls: only the last value in this frame counts.
        last: dict[str, int] = {}
        for index, command in enumerate(due_now):
            if command.coalesce_key is not None:
                last[command.coalesce_key] = index
        for index, command in enumerate(due_now):
            key = command.coalesce_key
            if key is not None and last[key] != index:
                self.coalesced += 1
                continue
            command.apply(self)
            self.applied += 1

    def apply_now(self, command: Command) -> None:
        """Apply at once (generation thread or before it starts)."""
        command.apply(self)

    def set(self, name: str, value: object) -> None:
        value = PARAMS[name].coerce(value)
        if self.values[name] != value:
            self.values[name] = value
            self.changed.add(name)

    def request_reset(self) -> None:
        self._reset_pending = True
        self.changed.add("reset")

    def take_changes(self) -> set[str]:
        changed, self.changed = self.changed, set()
        return changed

    def frame_conditioning(self) -> Conditioning:
        """A fresh Conditioning for the frame being built (engines may keep a reference)."""
        v = self.values
        embedding, tokens = self.style.advance()
        conditioning = Conditioning(
            style_embedding=embedding.copy(),
            style_tokens=tokens.copy(),
            notes=self.notes.frame_slots(int(v["unmask"]), int(v["onset_mode"])).copy(),
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

    def pending(self) -> int:
        return len(self._inbox) + len(self._schedule)
