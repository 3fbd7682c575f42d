"""The one command vocabulary every input speaks (OSC, MIDI, scenes, CLI).

A command is a small frozen value. Inputs build and validate it on their own
thread (so a bad value is refused before it is queued, and the sender hears
why), then submit it with a due time. The generation thread applies it at the
frame boundary it is due, by calling `apply(state)`.

`coalesce_key` names the continuous control a command moves: of several
commands with the same key due in one frame, only the last is applied.
Discrete events (notes, cues, resets) have no key and are never dropped.

Every change to the music is one of these typed values, never a function: what the
generation thread applied can then be told to a listener (core/capture.py writes it
down) and applied again, frame for frame, by a replay. Commands that need a part above
control (the scene host, the journal's record, the engine) are defined in core/ and reach it
through `ControlState.hosts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Mapping

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.frame import FRAMES_PER_SECOND
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.changes import Change
from mrtd.vocabulary import requests as q
# The checks a value from outside passes live with the requests that carry it (one message for
# one mistake, from OSC, the web page, a scene or MIDI); commands check again with the same code.
from mrtd.vocabulary.values import pitch as _pitch
from mrtd.vocabulary.values import prompt_name as _name
from mrtd.vocabulary.values import weight as _weight

if TYPE_CHECKING:
    from mrtd.control.state import ControlState


class Command:
    coalesce_key: str | None = None
    # Whether applying it changes the music, so a capture writes it down. A wrapper that only
    # schedules another (Quantized) is not: the command it schedules is, when it applies.
    recorded: ClassVar[bool] = True
    # A command that names the scene's prompts, axes or surface meets the scene a load in progress
    # brings, so it waits behind the load (core/commands.py); this is the address of the request it
    # comes from, which a refusal then names. None: it names nothing a scene brings.
    scene_address: ClassVar[str | None] = None

    def apply(self, state: "ControlState") -> None:
        raise NotImplementedError

    def settled(self, state: "ControlState") -> "Command":
        """This command with what it reads of the live moment (a wall-clock time) resolved, so
        applying the result here or in a replay does the same. Called, on the generation thread,
        only while a listener is told what applies; most commands read nothing of the moment."""
        return self

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        """Whether this only makes the sound safer (quieter, silent, notes off, reset, resting),
        judged against the parameters `values` now: such a command, due soon, is never refused
        for lack of room in the schedule (the performer's panic buttons must always work)."""
        return False


SAFER_SWITCHES = ("mute", "bypass")  # on: silence; a switch turned on is never refused for room


@dataclass(frozen=True)
class SetParam(Command):
    name: str
    value: float | int | bool

    @classmethod
    def checked(cls, name: str, value: object) -> "SetParam":
        if name not in PARAMS:
            raise ValueError(f"unknown parameter {name!r}")
        return cls(name, PARAMS[name].coerce(value))

    @property
    def coalesce_key(self) -> str | None:  # type: ignore[override]
        return self.name if PARAMS[self.name].continuous else None

    def apply(self, state: "ControlState") -> None:
        state.set(self.name, self.value)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        if self.name == "volume":
            return float(self.value) <= float(values["volume"])
        return self.name in SAFER_SWITCHES and bool(self.value)


@dataclass(frozen=True)
class Toggle(Command):
    """A switch flipped (a scene mapping's button): on becomes off and off on, as it is when applied."""

    name: str

    def apply(self, state: "ControlState") -> None:
        state.set(self.name, not state.values[self.name])


@dataclass(frozen=True)
class Glide(Command):
    """A controller's move, smoothed over `milliseconds` (a mapping's smoothing)."""

    name: str
    target: float
    milliseconds: float

    @property
    def coalesce_key(self) -> str:  # type: ignore[override]
        return self.name

    def apply(self, state: "ControlState") -> None:
        state.glide(self.name, self.target, self.milliseconds)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return self.name == "volume" and self.target <= float(values["volume"])


@dataclass(frozen=True)
class NoteOn(Command):
    pitch: int
    velocity: int = 100

    @classmethod
    def checked(cls, pitch: object, velocity: object = 100) -> "NoteOn":
        v = _pitch(velocity) if velocity is not None else 100  # same 0-127 range as a pitch
        return cls(_pitch(pitch), v)

    def apply(self, state: "ControlState") -> None:
        state.notes.note_on(self.pitch, self.velocity)
        state.changed.add(Change.NOTES)


@dataclass(frozen=True)
class NoteOff(Command):
    pitch: int

    @classmethod
    def checked(cls, pitch: object) -> "NoteOff":
        return cls(_pitch(pitch))

    def apply(self, state: "ControlState") -> None:
        state.notes.note_off(self.pitch)
        state.changed.add(Change.NOTES)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return True


@dataclass(frozen=True)
class NotesClear(Command):
    def apply(self, state: "ControlState") -> None:
        state.notes.clear()
        state.changed.add(Change.NOTES)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return True


@dataclass(frozen=True)
class Reset(Command):
    # Asked for now (no timetag), as a performer's panic button does: what is already buffered
    # was made before the request and is not heard (the output ducks at once, where the official
    # runner's cuts it: audio/playout.py). A timetagged reset lands on its frame, and the buffered frames before it play.
    at_once: bool = False

    def apply(self, state: "ControlState") -> None:
        state.request_reset(self.at_once)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return True


@dataclass(frozen=True)
class Rest(Command):
    """/mrt/stop and /mrt/start (and a scene's opening hours): fade the output to silence over
    `seconds` and let the engine rest, or wake it and fade back in."""

    resting: bool
    seconds: float = 3.0
    by_hours: bool = False  # a scene's opening hours closing or opening (its timeline), not a performer

    def apply(self, state: "ControlState") -> None:
        state.rest(self.resting, round(self.seconds * FRAMES_PER_SECOND), by_hours=self.by_hours)

    def safer(self, values: Mapping[str, float | int | bool]) -> bool:
        return self.resting  # /mrt/stop; waking (/mrt/start) waits its turn like any command


def resolve_prompt(name: str, known: list[str]) -> str:
    """The prompt `name` means: itself if it exists, else slot N = the Nth prompt (1-based).

    Panels and TouchOSC's faders address prompts by slot number; a scene names its prompts, so a
    slot is a position in its list. The official externals number their six slots 0-5
    (examples/max/mrt_tilde.mm `mrt_prompt`), mrtd from 1.
    """
    if name in known:
        return name
    if name.isdigit() and 1 <= int(name) <= len(known):
        return known[int(name) - 1]
    if name.isdigit():
        raise ValueError(f"no prompt in slot {name} ({len(known)} prompt(s))")
    raise ValueError(f"no prompt {name!r}")


@dataclass(frozen=True)
class DefinePrompt(Command):
    """A prompt point, possibly still encoding (embedding None): it joins the mix once ready."""

    name: str
    text: str
    embedding: np.ndarray | None = field(default=None, compare=False)
    weight: float | None = None

    def apply(self, state: "ControlState") -> None:
        state.define_prompt(self.name, self.text, self.embedding, weight=self.weight)


@dataclass(frozen=True)
class PromptReady(Command):
    """An encoder finished: the prompt's weight now takes effect."""

    name: str
    embedding: np.ndarray = field(compare=False)

    def apply(self, state: "ControlState") -> None:
        # The prompt may have been cleared while it was encoding (the encoder drops
        # results superseded by a newer text for the same name).
        state.prompt_ready(self.name, self.embedding)


@dataclass(frozen=True)
class ClearPrompt(Command):
    name: str

    def apply(self, state: "ControlState") -> None:
        state.clear_prompt(self.name)


@dataclass(frozen=True)
class SetWeight(Command):
    name: str
    weight: float
    scene_address: ClassVar[str | None] = q.Weight.address

    @classmethod
    def checked(cls, name: object, weight: object) -> "SetWeight":
        return cls(_name(name), _weight(weight))

    @property
    def coalesce_key(self) -> str:  # type: ignore[override]
        return f"weight:{self.name}"

    def apply(self, state: "ControlState") -> None:
        if not state.has_prompt(self.name):  # refused at the input when it could tell; here it can
            raise ValueError(f"no prompt {self.name!r}")
        state.set_weight(self.name, self.weight)


@dataclass(frozen=True)
class SetMix(Command):
    """A target mix, reached over `length` `unit`s along `curve` (0 jumps). Its checks are the
    request's (vocabulary.requests.Mix): every input that sends a mix decodes one."""

    weights: tuple[tuple[str, float], ...]
    length: float = 0.0
    unit: str = "s"  # "s", "beat" or "bar": beats and bars follow the tempo when the fade starts
    curve: str = "linear"
    coalesce_key = "mix"
    scene_address: ClassVar[str | None] = q.Mix.address

    def apply(self, state: "ControlState") -> None:
        known = {n: w for n, w in self.weights if state.has_prompt(n)}
        if not known:  # a mix of nothing but unknown names would silence the blend: change nothing
            raise ValueError(f"no prompt named {', '.join(n for n, _ in self.weights)}")
        state.crossfade(known, state.clock.frames_for(self.length, self.unit), self.curve)


@dataclass(frozen=True)
class SetAxis(Command):
    axis: int | str
    value: float
    scene_address: ClassVar[str | None] = q.Axis.address

    @property
    def coalesce_key(self) -> str:  # type: ignore[override]
        return f"axis:{self.axis}"

    def apply(self, state: "ControlState") -> None:
        state.style.set_axis(self.axis, self.value)
        state.axes[str(self.axis)] = self.value
        state.changed.add(Change.AXES)


@dataclass(frozen=True)
class SetXY(Command):
    x: float
    y: float
    coalesce_key = "xy"
    scene_address: ClassVar[str | None] = q.XY.address

    def apply(self, state: "ControlState") -> None:
        state.set_xy(self.x, self.y)


@dataclass(frozen=True)
class SetStyleTokens(Command):
    tokens: tuple[int, ...] | None  # None returns to the blend
    coalesce_key = "tokens"

    def apply(self, state: "ControlState") -> None:
        state.style.set_raw_tokens(None if self.tokens is None else np.asarray(self.tokens, dtype=np.int32))
        state.changed.add(Change.STYLE)


@dataclass(frozen=True)
class SetStyleEmbedding(Command):
    embedding: np.ndarray | None = field(compare=False)
    coalesce_key = "embedding"

    def __post_init__(self) -> None:
        if self.embedding is not None:
            if self.embedding.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(self.embedding)):
                raise ValueError(f"an embedding is {EMBEDDING_DIM} finite floats")

    def apply(self, state: "ControlState") -> None:
        state.style.set_raw_embedding(self.embedding)
        state.changed.add(Change.STYLE)


@dataclass(frozen=True)
class Quantized(Command):
    """`inner` at the count-th next beat or bar boundary, counted when this is applied."""

    inner: Command
    unit: str  # "beat" or "bar"
    count: int = 1
    recorded: ClassVar[bool] = False  # the inner command is, on the frame it applies

    def apply(self, state: "ControlState") -> None:
        state.schedule_in(state.clock.frames_until(self.unit, self.count), self.inner)


@dataclass(frozen=True)
class AlignBeat(Command):
    """Pull the musical clock to an external beat position: Tidal's cycle, Link's timeline, MIDI clock.

    `beat` is where the source is at wall time `at` (None: at the start of the frame this
    applies in). The clock counts beats at each frame's start as heard, so the position is
    carried from `at` to this frame's start at the source's tempo `bpm` (None: ours).
    `jump` forces the clock there (a transport start) instead of nudging small errors.
    `modulo` (beats, 0: none) aligns only the place within a cycle of that many beats: the
    clock goes to the position nearest its own that is `beat` modulo `modulo` (what a source
    that hears beats but counts no bars knows, e.g. listening: modulo 1 for the beat alone,
    the meter for the bar).
    """

    beat: float
    at: float | None = None
    bpm: float | None = None
    jump: bool = False
    modulo: float = 0.0
    coalesce_key = "align"  # only the newest position in a frame counts

    def apply(self, state: "ControlState") -> None:
        from mrtd.control.tempo import ALIGN_TOLERANCE

        beat = self._beat_now(state)
        if self.modulo > 0.0:
            own = state.clock.beat
            beat = own + (beat - own + self.modulo / 2.0) % self.modulo - self.modulo / 2.0
        state.clock.align(beat, 0.0 if self.jump else ALIGN_TOLERANCE)

    def _beat_now(self, state: "ControlState") -> float:
        from mrtd.frame import FRAME_SECONDS

        beat = self.beat
        if self.at is not None and state.frame_of is not None:
            position = state.frame_of(self.at)  # the frame heard at `at`, fractional
            if math.isfinite(position):
                bpm = self.bpm if self.bpm is not None else float(state.values["tempo"])
                beat += (state.frame - position) * bpm / 60.0 * FRAME_SECONDS
        return beat

    def settled(self, state: "ControlState") -> "AlignBeat":
        """The beat this frame starts on, with the wall time of the source's beat left behind: a
        replay has no output clock to carry `at` to a frame with, and needs none."""
        if self.at is None:
            return self
        return AlignBeat(self._beat_now(state), None, None, self.jump, self.modulo)  # the modulo reads the clock, which a replay has
