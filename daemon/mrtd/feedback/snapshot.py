"""The state a control surface shows, as OSC messages keyed by address.

Built on the generation thread (the state's one writer) and published as an
immutable dict, so status, sync and pushes read it from any thread. Each kind
of change (`vocabulary/changes.py`) renders as the messages of its row in
`FEEDBACK`, which also writes the feedback section of docs/osc.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.replies import ROOT

Messages = dict[str, list[Any]]


# What a snapshot reads of the state, named here so feedback imports nothing of control:
# the state's changes flow on to feedback (runtime hands them over once per frame), and an
# import of control from here would be an arrow against that flow. `ControlState` has all of it.
@runtime_checkable
class ShownStyle(Protocol):
    def weights(self) -> dict[str, float]:
        """The prompts' weights now."""
        ...

    @property
    def source(self) -> str:
        """Where the style comes from: prompts, tokens or embedding."""
        ...


@runtime_checkable
class ShownClock(Protocol):
    @property
    def bar(self) -> int: ...

    @property
    def beat_in_bar(self) -> int: ...

    @property
    def phase(self) -> float: ...

    @property
    def bpm(self) -> float: ...


@runtime_checkable
class ShownNotes(Protocol):
    @property
    def held(self) -> Mapping[int, int]:
        """Pitch -> velocity of the notes held."""
        ...


@runtime_checkable
class ShownState(Protocol):
    """The control state as a snapshot reads it, on the generation thread."""

    @property
    def values(self) -> Mapping[str, float | int | bool]: ...

    @property
    def style(self) -> ShownStyle: ...

    @property
    def prompt_texts(self) -> Mapping[str, str]: ...

    @property
    def axes(self) -> Mapping[str, float]: ...

    @property
    def xy(self) -> tuple[float, float] | None: ...

    @property
    def clock(self) -> ShownClock: ...

    @property
    def notes(self) -> ShownNotes: ...

    @property
    def scene(self) -> str | None: ...

    @property
    def cue(self) -> str | None: ...


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


def _mix(state: ShownState, out: Messages) -> None:
    out[f"{ROOT}/mix"] = [item for name, w in sorted(state.style.weights().items()) for item in (name, float(w))]


def _prompts(state: ShownState, out: Messages) -> None:
    out[f"{ROOT}/prompts"] = [item for name, t in sorted(state.prompt_texts.items()) for item in (name, t)]


def _axes(state: ShownState, out: Messages) -> None:
    for axis, value in sorted(state.axes.items()):
        out[f"{ROOT}/axis/{axis}"] = [float(value)]


def _xy(state: ShownState, out: Messages) -> None:
    if state.xy is not None:
        out[f"{ROOT}/xy"] = [float(state.xy[0]), float(state.xy[1])]


def _beat(state: ShownState, out: Messages) -> None:
    clock = state.clock
    out[f"{ROOT}/beat"] = [clock.bar, clock.beat_in_bar, round(clock.phase, 3), float(clock.bpm)]


def _scene(state: ShownState, out: Messages) -> None:
    out[f"{ROOT}/scene"] = [state.scene or ""]
    _prompts(state, out)  # a scene installs its own prompts


@dataclass(frozen=True)
class Feedback:
    change: Change
    address: str  # as the reference page shows it
    args: str
    doc: str
    render: Callable[[ShownState, Messages], None]


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

def messages(state: ShownState, changes: set[Change] | None = None) -> Messages:
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
