"""A reset at the start of the host's transport, and the one it skips after a prefill.

The official runner has two kinds of reset (magenta-realtime 2.0.3,
core/include/magentart/realtime_runner.h `trigger_reset`, `trigger_transport_reset`;
core/src/realtime_runner.cpp `inference_loop`): a player's reset always fires; a transport's
(the AU plugin's, when the host's beat position arrives at 0: examples/mrt2/auv3/
MagentaRT_AudioUnit.mm) fires unless a prefill has just succeeded, which arms a one-shot skip
(`skip_next_transport_reset_`, set by `prefill_state` and `prefill_silence`) so that the
prefilled context survives the host's re-cue. The skip is used up only by a transport reset: a
player's reset in between leaves it armed. Read from the official code, not copied.

mrtd's inputs say when its host's transport starts: MIDI Start or a Song Position of 0
(inputs/transport.py) and JACK transport arriving at frame 0 (inputs/jack_transport.py). Where
mrtd differs: the official `trigger_transport_reset` cuts the output's envelope to 0 even when the
reset is then skipped, a 40 ms dip in music that did not change; mrtd skips it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from mrtd.control.commands import Command

if TYPE_CHECKING:
    from mrtd.control.state import ControlState


@dataclass(frozen=True)
class TransportReset(Command):
    """The host's transport started: a reset, unless a prefill armed the skip (which this uses up).
    Asked for now, as a reset from a player's hand: what is buffered ducks at once."""

    at_once: bool = True

    def apply(self, state: "ControlState") -> None:
        if state.skip_next_transport_reset:
            state.skip_next_transport_reset = False
            return
        state.request_reset(self.at_once)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return True


@dataclass(frozen=True)
class ArmTransportSkip(Command):
    """A prefill succeeded: the next transport reset is skipped (a player's reset is not)."""

    def apply(self, state: "ControlState") -> None:
        state.skip_next_transport_reset = True
