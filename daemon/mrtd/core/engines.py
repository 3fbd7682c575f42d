"""The engine as a session sees it: which one plays, and a swap to another as a command.

A live swap (/mrt/model, /mrt/prefill, the fallback after faults) loads the new engine off
the generation thread and the generator takes it over at a frame boundary; the generator
then tells the control state's listener, which a capture writes down as `SwapEngine` on
that frame. A replay applies it on the same frame: the `EngineSwitch` makes the engine
there and then (nothing is live, so nothing waits) and the generator takes it over in the
same frame, with the same crossfade.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from mrtd.control.commands import Command
from mrtd.control.state import ControlState
from mrtd.engine import Engine
from mrtd.engines import ENGINE_NAMES

log = logging.getLogger(__name__)

MakeEngine = Callable[[str, "str | None"], Engine]  # (engine name, model) -> a ready engine


def model_of(engine: Engine) -> str | None:
    """The model an engine plays (mrt2's), None for one without (the synth)."""
    model = getattr(engine, "model", None)
    return model if isinstance(model, str) else None


@dataclass(frozen=True)
class SwapEngine(Command):
    """The generator took engine `name` (`model`) over on this frame, crossfading over
    `crossfade_frames` (0: at once, a fallback). `prefilled`: its context was filled from audio
    first (/mrt/prefill), which a replay cannot do again: it swaps to a fresh engine, and says so."""

    name: str
    model: str | None = None
    crossfade_frames: int = 4
    prefilled: bool = False

    def apply(self, state: ControlState) -> None:
        switch = state.hosts.get(EngineSwitch)
        if not isinstance(switch, EngineSwitch):
            raise ValueError("an engine swap is applied only by a replay (live, the engine loader swaps)")
        switch.swap(self)


class EngineSwitch:
    """A replay's engine swaps: `make` builds the engine a capture swapped to, `take` hands it to
    the generator (its `swap_engine`, which starts the crossfade in the frame being made)."""

    def __init__(self, state: ControlState, make: MakeEngine, take: Callable[[Engine, int], object]) -> None:
        state.hosts[EngineSwitch] = self  # what SwapEngine applies to
        self._state = state
        self._make = make
        self._take = take

    def swap(self, command: SwapEngine) -> None:
        if command.name not in ENGINE_NAMES:
            raise ValueError(f"no engine {command.name[:40]!r}")
        if command.prefilled:
            log.warning("the %s engine swapped in on frame %d was prefilled from audio live; "
                        "the replay swaps to a fresh one", command.name, self._state.frame)
        engine = self._make(command.name, command.model)
        self._take(engine, max(0, command.crossfade_frames))
