"""The state a control surface shows, as OSC messages keyed by address.

Built on the generation thread (the state's one writer) and published as an
immutable dict, so status, sync and pushes read it from any thread. Each kind
of change (`vocabulary/changes.py`) renders as the messages of its row in
`FEEDBACK`, which also writes the feedback section of docs/osc.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mrtd.vocabulary.changes import Change
from mrtd.control.state import ControlState
from mrtd.vocabulary.replies import ROOT

Messages = dict[str, list[Any]]

# parameter name -> the canonical address that sets it (and shows it)
PARAM_ADDRESS = {
    "temperature": f"{ROOT}/temperature",
    "top_k": f"{ROOT}/topk",
    "seed": f"{ROOT}/seed",
    "cfg_style": f"{ROOT}/cfg/style",
    "cfg_notes": f"{ROOT}/cfg/notes",
    "cfg_drums": f"{ROOT}/cfg/drums",
    "drums": f"{ROOT}/drums",
    "volume": f"{ROOT}/volume",
    "mute": f"{ROOT}/mute",
    "bypass": f"{ROOT}/bypass",
    "unmask": f"{ROOT}/unmask",
    "onset_mode": f"{ROOT}/onset_mode",
    "midigate": f"{ROOT}/midigate",
    "tempo": f"{ROOT}/tempo",
    "meter": f"{ROOT}/meter",
}


def _value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _mix(state: ControlState, out: Messages) -> None:
    out[f"{ROOT}/mix"] = [item for name, w in sorted(state.style.weights().items()) for item in (name, float(w))]


def _prompts(state: ControlState, out: Messages) -> None:
    out[f"{ROOT}/prompts"] = [item for name, t in sorted(state.prompt_texts.items()) for item in (name, t)]


def _axes(state: ControlState, out: Messages) -> None:
    for axis, value in sorted(state.axes.items()):
        out[f"{ROOT}/axis/{axis}"] = [float(value)]


def _xy(state: ControlState, out: Messages) -> None:
    if state.xy is not None:
        out[f"{ROOT}/xy"] = [float(state.xy[0]), float(state.xy[1])]


def _beat(state: ControlState, out: Messages) -> None:
    clock = state.clock
    out[f"{ROOT}/beat"] = [clock.bar, clock.beat_in_bar, round(clock.phase, 3), float(clock.bpm)]


def _scene(state: ControlState, out: Messages) -> None:
    out[f"{ROOT}/scene"] = [state.scene or ""]
    _prompts(state, out)  # a scene installs its own prompts


@dataclass(frozen=True)
class Feedback:
    change: Change
    address: str  # as the reference page shows it
    args: str
    doc: str
    render: Callable[[ControlState, Messages], None]


FEEDBACK: tuple[Feedback, ...] = tuple(
    Feedback(Change(name), address, "value", f"parameter {name}",
             lambda state, out, name=name, address=address: out.__setitem__(address, [_value(state.values[name])]))
    for name, address in PARAM_ADDRESS.items()
) + (
    Feedback(Change.MIX, f"{ROOT}/mix", "name w [name w ...]", "the prompts' weights now (pushed every frame of a crossfade)", _mix),
    Feedback(Change.PROMPTS, f"{ROOT}/prompts", "name text [name text ...]", "the prompts defined", _prompts),
    Feedback(Change.AXES, f"{ROOT}/axis/<axis>", "f", "an axis value", _axes),
    Feedback(Change.XY, f"{ROOT}/xy", "x y", "the position on the 2-D surface", _xy),
    Feedback(Change.NOTES, f"{ROOT}/notes", "pitch [pitch ...]", "the notes held",
             lambda state, out: out.__setitem__(f"{ROOT}/notes", sorted(state.notes.held))),
    Feedback(Change.BEAT, f"{ROOT}/beat", "bar beat phase bpm", "a beat starts (bar and beat from 1)", _beat),
    Feedback(Change.SCENE, f"{ROOT}/scene", "name", "the scene playing ('' for none), then its prompts", _scene),
    Feedback(Change.CUE, f"{ROOT}/cue", "name", "the cue last fired ('' for none)",
             lambda state, out: out.__setitem__(f"{ROOT}/cue", [state.cue or ""])),
    Feedback(Change.STYLE, f"{ROOT}/style/source", "prompts|tokens|embedding",
             "where the style comes from: the prompt blend, or raw tokens or a raw embedding sent over OSC",
             lambda state, out: out.__setitem__(f"{ROOT}/style/source", [state.style.source])),
)

def messages(state: ControlState, changes: set[Change] | None = None) -> Messages:
    """Messages for `changes` (None: everything), in the order of FEEDBACK."""
    out: Messages = {}
    for row in FEEDBACK:
        if changes is None or row.change in changes:
            row.render(state, out)
    return out


def feedback_markdown() -> list[str]:
    """The feedback section of docs/osc.md."""
    lines = ["", "## Feedback", "",
             "Pushed to subscribers (`/mrt/subscribe`) and the web page when it changes, and sent in full by `/mrt/sync`.", "",
             "| address | arguments | when |", "|---|---|---|"]
    for row in FEEDBACK:
        lines.append(f"| `{row.address}` | {row.args.replace('|', chr(92) + '|')} | {row.doc} |")
    return lines
