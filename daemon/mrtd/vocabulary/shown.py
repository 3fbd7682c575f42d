"""What the state shows: one typed message per kind of feedback, for both sides.

The daemon builds these on the generation thread when something changes
(`feedback/snapshot.py`) and sends their `message()` to subscribers, the web
page and `/mrt/sync`; a client turns what arrived back into the same object
with `decode`, as it does a reply with `replies.decode`.

A parameter shows as the very request that sets it, and so does the 2-D
point: a fader shows the message it would send, so a surface that sends back
what it was shown changes nothing. What only the daemon knows (the mix a
crossfade has reached, the notes held, the beat, the scene and cue playing,
where the style comes from) has a class here, a `Response` as the replies are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mrtd.vocabulary.codec import ROOT, Message
from mrtd.vocabulary.replies import Named, Response
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.requests import REQUESTS, XY, ParamSwitch, Request, SetParam, Tempo
from mrtd.vocabulary.values import MAX_TEXT, arity, number, pitch


# Parameter name -> the request that sets it (and shows it), in the order of PARAMS. Written out:
# `SeedRotation` also sets the seed, but `/mrt/seed` is where it shows.
PARAMETER_REQUESTS: dict[str, type[Request]] = {
    "temperature": q.Temperature, "top_k": q.TopK, "seed": q.Seed, "cfg_style": q.CfgStyle, "cfg_notes": q.CfgNotes,
    "cfg_drums": q.CfgDrums, "drums": q.Drums, "volume": q.Volume, "mute": q.Mute, "bypass": q.Bypass,
    "unmask": q.Unmask, "onset_mode": q.OnsetMode, "midigate": q.Midigate, "solo": q.Solo,
    "tempo": q.Tempo,  # bpm alone: the meter is its own parameter
    "meter": q.Meter,
    "listen_notes": q.ListenNotes, "listen_tempo": q.ListenTempo, "listen_style": q.ListenStyle,
}


def parameter(name: str, value: float | int | bool) -> Request:
    """Parameter `name` at `value`, as the request that sets it."""
    kind = PARAMETER_REQUESTS[name]
    if issubclass(kind, ParamSwitch):
        return kind(bool(value))
    if issubclass(kind, SetParam):
        return kind(int(value) if isinstance(value, bool) else value)
    return Tempo(float(value))


def _string(value: Any, what: str) -> str:
    """Text the daemon wrote ('' where it means none), no longer than any text it keeps."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{what} should be text of at most {MAX_TEXT} characters")
    return value


def _pairs(args: list[Any], what: str) -> list[tuple[Any, Any]]:
    if len(args) % 2:
        raise ValueError(f"{what} come in pairs, got {len(args)} arguments")
    return list(zip(args[::2], args[1::2]))


@dataclass(frozen=True)
class MixNow(Response):
    """The prompts' weights now, by name (every frame of a crossfade)."""

    address: ClassVar[str] = f"{ROOT}/mix"
    weights: tuple[tuple[str, float], ...]

    def args(self) -> list[Any]:
        return [item for name, weight in self.weights for item in (name, float(weight))]

    @classmethod
    def from_args(cls, args: list[Any]) -> "MixNow":
        return cls(tuple((_string(name, "a prompt name"), number(weight, "a weight")) for name, weight in _pairs(args, "weights")))


@dataclass(frozen=True)
class PromptsDefined(Response):
    """The prompts defined and their texts, by name."""

    address: ClassVar[str] = f"{ROOT}/prompts"
    texts: tuple[tuple[str, str], ...]

    def args(self) -> list[Any]:
        return [item for name, prompt in self.texts for item in (name, prompt)]

    @classmethod
    def from_args(cls, args: list[Any]) -> "PromptsDefined":
        return cls(tuple((_string(name, "a prompt name"), _string(prompt, "a prompt")) for name, prompt in _pairs(args, "prompts")))


@dataclass(frozen=True)
class AxisNow(Response):
    """One axis of the scene's style space; each has its own address."""

    address: ClassVar[str] = f"{ROOT}/axis/<axis>"
    prefix: ClassVar[str] = f"{ROOT}/axis/"
    axis: str
    value: float

    def args(self) -> list[Any]:
        return [float(self.value)]

    def message(self) -> Message:
        return (self.prefix + self.axis, self.args())

    @classmethod
    def at(cls, address: str, args: list[Any]) -> "AxisNow":
        arity(args, 1)
        return cls(address[len(cls.prefix):], number(args[0], "the axis value"))


@dataclass(frozen=True)
class NotesHeld(Response):
    """The pitches held, lowest first."""

    address: ClassVar[str] = f"{ROOT}/notes"
    pitches: tuple[int, ...]

    def args(self) -> list[Any]:
        return list(self.pitches)

    @classmethod
    def from_args(cls, args: list[Any]) -> "NotesHeld":
        return cls(tuple(pitch(value) for value in args))


@dataclass(frozen=True)
class Beat(Response):
    """A beat starts: bar and beat count from 1; phase 0-1 within the beat."""

    address: ClassVar[str] = f"{ROOT}/beat"
    bar: int
    beat: int
    phase: float
    bpm: float

    def args(self) -> list[Any]:
        return [self.bar, self.beat, round(self.phase, 3), float(self.bpm)]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Beat":
        arity(args, 4)
        bar, beat = number(args[0], "the bar"), number(args[1], "the beat")
        if bar != int(bar) or beat != int(beat):
            raise ValueError("the bar and the beat are whole numbers")
        return cls(int(bar), int(beat), number(args[2], "the phase"), number(args[3], "the tempo"))


@dataclass(frozen=True)
class ScenePlaying(Named):
    address: ClassVar[str] = f"{ROOT}/scene"


@dataclass(frozen=True)
class CueFired(Named):
    address: ClassVar[str] = f"{ROOT}/cue"


@dataclass(frozen=True)
class StyleSource(Named):
    """prompts, tokens or embedding."""

    address: ClassVar[str] = f"{ROOT}/style/source"


SHOWN: dict[str, type[Response]] = {kind.address: kind for kind in (MixNow, PromptsDefined, NotesHeld, Beat, ScenePlaying,
                                                                  CueFired, StyleSource)}
_REQUESTS_SHOWN: tuple[type[Request], ...] = (*PARAMETER_REQUESTS.values(), XY)
SHOWN_AS_REQUESTS = {kind.address for kind in _REQUESTS_SHOWN}


def decode(address: str, args: list[Any]) -> Response | Request | None:
    """The typed state message for a push or a `/mrt/sync` answer; None for an address that is
    no state (a reply: see `replies.decode`) or arguments that do not fit."""
    try:
        if address.startswith(AxisNow.prefix):
            return AxisNow.at(address, list(args))
        if address in SHOWN:
            return SHOWN[address].from_args(list(args))
        if address in SHOWN_AS_REQUESTS:
            return REQUESTS[address].from_args(list(args))
    except (ValueError, TypeError):
        return None
    return None
