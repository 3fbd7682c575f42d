"""The state a control surface shows, as OSC messages keyed by address.

Built on the generation thread (the state's one writer) and published as an
immutable dict, so status, sync and pushes read it from any thread. Each kind
of change (`vocabulary/changes.py`) shows as the typed messages of its row in
`FEEDBACK` (`vocabulary/shown.py`, which a client decodes them with); the
table also writes the feedback section of docs/osc.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.replies import Response
from mrtd.vocabulary.requests import XY, Request
from mrtd.vocabulary.shown import (
    PARAMETER_REQUESTS, AxisNow, Beat, CueFired, MixNow, NotesHeld, PromptsDefined, ScenePlaying, StyleSource,
    parameter,
)

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
PARAM_ADDRESS = {name: kind.address for name, kind in PARAMETER_REQUESTS.items()}

Shows = Callable[[ShownState], Iterable["Response | Request"]]


def _parameter(name: str) -> Shows:
    return lambda state: (parameter(name, state.values[name]),)


def _mix(state: ShownState) -> Iterable[Response]:
    return (MixNow(tuple(sorted(state.style.weights().items()))),)


def _prompts(state: ShownState) -> Iterable[Response]:
    return (PromptsDefined(tuple(sorted(state.prompt_texts.items()))),)


def _axes(state: ShownState) -> Iterable[Response]:
    return tuple(AxisNow(axis, float(value)) for axis, value in sorted(state.axes.items()))


def _xy(state: ShownState) -> Iterable[Request]:
    return () if state.xy is None else (XY(float(state.xy[0]), float(state.xy[1])),)


def _beat(state: ShownState) -> Iterable[Response]:
    clock = state.clock
    return (Beat(clock.bar, clock.beat_in_bar, clock.phase, clock.bpm),)


def _scene(state: ShownState) -> Iterable[Response]:
    return (ScenePlaying(state.scene or ""), *_prompts(state))  # a scene installs its own prompts


@dataclass(frozen=True)
class Feedback:
    change: Change
    address: str  # as the reference page shows it
    args: str
    doc: str
    shows: Shows  # the typed messages (vocabulary/shown.py) for this kind of change


FEEDBACK: tuple[Feedback, ...] = tuple(
    Feedback(Change(name), address, "value", f"parameter {name}", _parameter(name))
    for name, address in PARAM_ADDRESS.items()
) + (
    Feedback(Change.MIX, MixNow.address, "name w [name w ...]", "the prompts' weights now (pushed every frame of a crossfade)", _mix),
    Feedback(Change.PROMPTS, PromptsDefined.address, "name text [name text ...]", "the prompts defined", _prompts),
    Feedback(Change.AXES, AxisNow.address, "f", "an axis value", _axes),
    Feedback(Change.XY, XY.address, "x y", "the position on the 2-D surface", _xy),
    Feedback(Change.NOTES, NotesHeld.address, "pitch [pitch ...]", "the notes held",
             lambda state: (NotesHeld(tuple(sorted(state.notes.held))),)),
    Feedback(Change.BEAT, Beat.address, "bar beat phase bpm", "a beat starts (bar and beat from 1)", _beat),
    Feedback(Change.SCENE, ScenePlaying.address, "name", "the scene playing ('' for none), then its prompts", _scene),
    Feedback(Change.CUE, CueFired.address, "name", "the cue last fired ('' for none)",
             lambda state: (CueFired(state.cue or ""),)),
    Feedback(Change.STYLE, StyleSource.address, "prompts|tokens|embedding",
             "where the style comes from: the prompt blend, or raw tokens or a raw embedding sent over OSC",
             lambda state: (StyleSource(state.style.source),)),
)


def messages(state: ShownState, changes: set[Change] | None = None) -> Messages:
    """Messages for `changes` (None: everything), in the order of FEEDBACK."""
    out: Messages = {}
    for row in FEEDBACK:
        if changes is None or row.change in changes:
            for shown in row.shows(state):
                address, args = shown.message()
                out[address] = args
    return out


# AXES and XY can add an address (a first value on an axis, the first 2-D point), which only a
# whole snapshot puts in FEEDBACK's order; a scene changes much at once. After these the whole
# state is shown again; any other change replaces its own rows, which are already there.
RESHOWN_WHOLE = frozenset({Change.AXES, Change.XY, Change.SCENE})


def update(shown: Messages, state: ShownState, changes: set[Change]) -> tuple[Messages, Messages]:
    """(the new snapshot, the messages to push) after `changes`: a crossfade's frames show the
    mix again, not the whole state."""
    pushed = messages(state, changes)
    if changes & RESHOWN_WHOLE:
        return messages(state), pushed
    return {**shown, **pushed}, pushed


class Snapshot:
    """The state shown, kept up as a session listener (core/session.py's `SessionListener`, which
    it meets without importing core: feedback comes after it): each frame that changed something
    replaces `messages` (read from any thread: it is never changed in place) and hands what
    changed to each of `publishers` (the pusher, the web page), on the generation thread."""

    def __init__(self) -> None:
        self.messages: Messages = {}
        self.publishers: list[Callable[[Messages], None]] = []

    def show(self, state: ShownState) -> None:
        """Show the whole state now (at start, before the first frame)."""
        self.messages = messages(state)

    def changed(self, frame: int, changes: set[Change], state: ShownState) -> None:
        if not changes:
            return
        self.messages, pushed = update(self.messages, state, changes)
        for publish in self.publishers:
            publish(pushed)


def feedback_markdown() -> list[str]:
    """The feedback section of docs/osc.md."""
    lines = ["", "## Feedback", "",
             "Pushed to subscribers (`/mrt/subscribe`) and the web page when it changes, and sent in full by `/mrt/sync` "
             "(`mrtd.vocabulary.shown`: the daemon builds these, the Python clients decode them; a parameter shows as "
             "the request that sets it, and `Client.state()` gives the whole state typed).", "",
             "| address | arguments | when |", "|---|---|---|"]
    for row in FEEDBACK:
        lines.append(f"| `{row.address}` | {row.args.replace('|', chr(92) + '|')} | {row.doc} |")
    return lines
