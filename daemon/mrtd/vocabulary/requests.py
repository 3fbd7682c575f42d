"""What the daemon is asked: one typed request per address, for both sides.

A client builds a request and sends `message()`; the daemon decodes what
arrived with the class's `from_args` (or `decode`) and gets the same object
back: one definition of each request, as supriya's requests are, beside the
replies in `replies.py`. The OSC table (inputs/osc/table.py) names each
row's class, and the web page's JSON messages decode through the same rows.

`from_args` does every check that needs nothing but the arguments (arity,
types, text length, finite numbers, a parameter's range) and raises
ValueError with the reason the sender hears as `/mrt/error`. What needs the
running daemon (does that prompt exist, is a scene loaded, a configured
limit) is the handler's to check.

The live coders' dialects (`/mrt/event`, `/dirt/play`, ORCA's `/n` ...) are
name/value or glyph streams whose meaning depends on the daemon's settings;
their requests carry the raw arguments and their parsers (dirt.py, orca.py,
the table's `event`) read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.values import (
    CURVES, MAX_FILE_NAME, MAX_SLOT, arity, bounded, number, parse_length, parse_when, pitch, prompt_name, style_tokens, switch,
    text, name_text, weight, when_text,
)

from mrtd.vocabulary.codec import ROOT, Message
When = tuple[str, int]  # ("beat" or "bar", count): the count-th next boundary
R = TypeVar("R", bound="Request")
# A style embedding's values lie within +-1 or so (MusicCoCa's are unit length): a thousand
# leaves room for any hand-made one, and keeps a blend's sums far from float32 overflow.
MAX_EMBEDDING = 1000.0


@dataclass(frozen=True)
class Request:
    address: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other addresses that decode to this class
    on_the_grid: ClassVar[bool] = True  # whether /mrt/at may hold it back to a beat or bar

    def args(self) -> list[Any]:
        return []

    def message(self) -> Message:
        return (self.address, self.args())

    @classmethod
    def from_args(cls: type[R], args: list[Any]) -> R:
        arity(args, 0)
        return cls()


# -- prompts and the mix ---------------------------------------------------------------


@dataclass(frozen=True)
class Prompt(Request):
    address: ClassVar[str] = f"{ROOT}/prompt"
    aliases: ClassVar[tuple[str, ...]] = ("/prompt",)
    on_the_grid: ClassVar[bool] = False  # encoding takes its own time; a prompt joins the mix when ready
    name: str
    text: str
    weight: float | None = None

    def args(self) -> list[Any]:
        return [self.name, self.text, *([] if self.weight is None else [self.weight])]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Prompt":
        arity(args, 2, 3)
        name = prompt_name(args[0])
        given = weight(args[2]) if len(args) == 3 else None
        return cls(name, text(args[1], "prompt text"), given)


@dataclass(frozen=True)
class PromptClear(Request):
    address: ClassVar[str] = f"{ROOT}/prompt/clear"
    aliases: ClassVar[tuple[str, ...]] = ("/prompt_clear",)
    name: str

    def args(self) -> list[Any]:
        return [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "PromptClear":
        arity(args, 1)
        return cls(prompt_name(args[0]))


@dataclass(frozen=True)
class Mix(Request):
    """A target mix, reached over `fade` `unit`s ("s", "beat" or "bar") along `curve`."""

    address: ClassVar[str] = f"{ROOT}/mix"
    weights: tuple[tuple[str, float], ...]
    fade: float = 0.0
    unit: str = "s"
    curve: str = "linear"

    def args(self) -> list[Any]:
        out: list[Any] = [x for pair in self.weights for x in pair]
        if self.fade or self.unit != "s" or self.curve != "linear":
            # beats and bars travel as text ('4 beats'), written so that it reads back exactly
            out.append(self.fade if self.unit == "s" else f"{np.format_float_positional(self.fade, trim='-')} {self.unit}s")
        if self.curve != "linear":
            out.append(self.curve)
        return out

    @classmethod
    def from_args(cls, args: list[Any]) -> "Mix":
        args = list(args)
        weights: dict[object, object] = {}
        # name weight pairs; a trailing number (and text) are the fade seconds (and curve).
        # Names are text or slot numbers (the Max patch and Pd panel send `1 0.5 2 0.5`).
        while len(args) >= 2 and isinstance(args[1], (int, float)) and not isinstance(args[0], bytes):
            if not isinstance(args[0], str) and len(args) == 2 and any(isinstance(n, str) for n in weights):
                break  # "a 1 2.0 1": after named pairs, a trailing number pair is fade and (bad) curve
            weights[args[0]] = args[1]
            args = args[2:]
        if not weights:
            raise ValueError("wants name weight pairs, then optionally fade seconds and a curve")
        if len(args) > 2:
            raise ValueError("after the name weight pairs, only fade seconds and a curve may follow")
        length: float = 0.0
        unit = "s"
        if args:  # fade: seconds, or text such as "4 bars" or "8 beats"
            length, unit = parse_length(args[0]) if isinstance(args[0], str) else (number(args[0], "fade seconds"), "s")
        curve = text(args[1], "curve") if len(args) > 1 else "linear"
        pairs = tuple((prompt_name(n), weight(w)) for n, w in weights.items())
        length = number(length, "fade length")
        if not 0.0 <= length <= 3600.0:
            raise ValueError(f"fade length lies in [0, 3600], got {length}")
        if curve not in CURVES:
            raise ValueError(f"unknown curve {curve!r}; use one of {', '.join(CURVES)}")
        return cls(pairs, float(length), unit, curve)


@dataclass(frozen=True)
class Weight(Request):
    address: ClassVar[str] = f"{ROOT}/weight"
    name: str
    weight: float

    def args(self) -> list[Any]:
        return [self.name, self.weight]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Weight":
        arity(args, 2)
        return cls(prompt_name(args[0]), weight(args[1]))


@dataclass(frozen=True)
class Axis(Request):
    """A signed offset along PCA axis 0-5 (an int) or a scene's named axis (text)."""

    address: ClassVar[str] = f"{ROOT}/axis"
    aliases: ClassVar[tuple[str, ...]] = ("/pca",)
    axis: int | str
    value: float

    def args(self) -> list[Any]:
        return [self.axis, self.value]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Axis":
        arity(args, 2)
        which = args[0]
        if isinstance(which, str):
            key: int | str = name_text(which, "axis")
        else:
            index = number(which, "axis index")
            if index != int(index) or not 0 <= index <= 5:
                raise ValueError(f"axis index is 0-5 or an axis name, got {which}")
            key = int(index)
        value = number(args[1], "axis value")
        if not -10.0 <= value <= 10.0:
            raise ValueError(f"axis value lies in [-10, 10], got {value}")
        return cls(key, value)


@dataclass(frozen=True)
class XY(Request):
    address: ClassVar[str] = f"{ROOT}/xy"
    x: float
    y: float

    def args(self) -> list[Any]:
        return [self.x, self.y]

    @classmethod
    def from_args(cls, args: list[Any]) -> "XY":
        arity(args, 2)
        x, y = number(args[0], "x"), number(args[1], "y")
        if not (-1e6 < x < 1e6 and -1e6 < y < 1e6):
            raise ValueError("x and y must be reasonable coordinates")
        return cls(x, y)


@dataclass(frozen=True)
class StyleTokens(Request):
    """Raw style tokens (-1 masked); None returns to the prompt blend."""

    address: ClassVar[str] = f"{ROOT}/style/tokens"
    tokens: tuple[int, ...] | None = None

    def args(self) -> list[Any]:
        return list(self.tokens or ())

    @classmethod
    def from_args(cls, args: list[Any]) -> "StyleTokens":
        return cls(style_tokens(args) if args else None)


@dataclass(frozen=True)
class StyleEmbedding(Request):
    """A raw style embedding as its little-endian float32 bytes (so two compare equal by value);
    None returns to the prompt blend. On the wire: a blob, or EMBEDDING_DIM numbers."""

    address: ClassVar[str] = f"{ROOT}/style/embedding"
    embedding: bytes | None = None

    def args(self) -> list[Any]:
        return [] if self.embedding is None else [self.embedding]

    def vector(self) -> np.ndarray | None:
        return None if self.embedding is None else np.frombuffer(self.embedding, dtype="<f4").astype(np.float32)

    @classmethod
    def from_args(cls, args: list[Any]) -> "StyleEmbedding":
        if not args:
            return cls(None)
        if len(args) == 1 and isinstance(args[0], bytes):
            if len(args[0]) != EMBEDDING_DIM * 4:
                raise ValueError(f"an embedding blob is {EMBEDDING_DIM} little-endian float32 ({EMBEDDING_DIM * 4} bytes), got {len(args[0])}")
            vector = np.frombuffer(args[0], dtype="<f4").astype(np.float32)
        else:
            arity(args, EMBEDDING_DIM)
            vector = np.array([bounded(v, "embedding value", -MAX_EMBEDDING, MAX_EMBEDDING) for v in args], dtype=np.float32)
        if not np.all(np.isfinite(vector)) or np.abs(vector).max() > MAX_EMBEDDING:
            raise ValueError(f"embedding values are finite, within +-{MAX_EMBEDDING:g}")
        return cls(vector.astype("<f4").tobytes())


# -- scalar parameters: one address each, checked against PARAMS -------------------------


@dataclass(frozen=True)
class SetParam(Request):
    """A parameter of PARAMS (`param`), checked against its range and kind."""

    param: ClassVar[str]
    value: float | int

    def args(self) -> list[Any]:
        return [self.value]

    @classmethod
    def from_args(cls, args: list[Any]) -> "SetParam":
        arity(args, 1)
        return cls(PARAMS[cls.param].coerce(number(args[0], cls.param)))


@dataclass(frozen=True)
class Temperature(SetParam):
    address: ClassVar[str] = f"{ROOT}/temperature"
    aliases: ClassVar[tuple[str, ...]] = ("/temperature",)
    param: ClassVar[str] = "temperature"


@dataclass(frozen=True)
class TopK(SetParam):
    address: ClassVar[str] = f"{ROOT}/topk"
    aliases: ClassVar[tuple[str, ...]] = ("/topk",)
    param: ClassVar[str] = "top_k"


@dataclass(frozen=True)
class Seed(SetParam):
    address: ClassVar[str] = f"{ROOT}/seed"
    param: ClassVar[str] = "seed"


@dataclass(frozen=True)
class SeedRotation(SetParam):
    """The official name for the seed: its own row, as it has its own documented range."""

    address: ClassVar[str] = "/seedrotation"
    param: ClassVar[str] = "seed"


@dataclass(frozen=True)
class CfgStyle(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/style"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgmusiccoca",)
    param: ClassVar[str] = "cfg_style"


@dataclass(frozen=True)
class CfgNotes(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/notes"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgnotes",)
    param: ClassVar[str] = "cfg_notes"


@dataclass(frozen=True)
class CfgDrums(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/drums"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgdrums",)
    param: ClassVar[str] = "cfg_drums"


@dataclass(frozen=True)
class Unmask(SetParam):
    address: ClassVar[str] = f"{ROOT}/unmask"
    aliases: ClassVar[tuple[str, ...]] = ("/unmaskwidth",)
    param: ClassVar[str] = "unmask"


@dataclass(frozen=True)
class OnsetMode(SetParam):
    address: ClassVar[str] = f"{ROOT}/onset_mode"
    aliases: ClassVar[tuple[str, ...]] = ("/onsetmode",)
    param: ClassVar[str] = "onset_mode"


@dataclass(frozen=True)
class Drums(SetParam):
    address: ClassVar[str] = f"{ROOT}/drums"
    param: ClassVar[str] = "drums"


@dataclass(frozen=True)
class Volume(SetParam):
    address: ClassVar[str] = f"{ROOT}/volume"
    aliases: ClassVar[tuple[str, ...]] = ("/volume",)
    param: ClassVar[str] = "volume"


@dataclass(frozen=True)
class Meter(SetParam):
    address: ClassVar[str] = f"{ROOT}/meter"
    param: ClassVar[str] = "meter"


@dataclass(frozen=True)
class Switch(Request):
    """On or off: no argument means on; otherwise 0 or 1."""

    on: bool = True

    def args(self) -> list[Any]:
        return [int(self.on)]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Switch":
        return cls(switch(args))


@dataclass(frozen=True)
class ParamSwitch(Switch):
    """A switch that is a parameter of PARAMS (`param`)."""

    param: ClassVar[str]


@dataclass(frozen=True)
class Midigate(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/midigate"
    aliases: ClassVar[tuple[str, ...]] = ("/midigate",)
    param: ClassVar[str] = "midigate"


@dataclass(frozen=True)
class Mute(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/mute"
    aliases: ClassVar[tuple[str, ...]] = ("/mute",)
    param: ClassVar[str] = "mute"


@dataclass(frozen=True)
class Bypass(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/bypass"
    aliases: ClassVar[tuple[str, ...]] = ("/bypass",)
    param: ClassVar[str] = "bypass"


@dataclass(frozen=True)
class Drumless(Switch):
    """The official switch: on = no drums, off = the model decides."""

    address: ClassVar[str] = "/drumless"


@dataclass(frozen=True)
class Tempo(Request):
    address: ClassVar[str] = f"{ROOT}/tempo"
    bpm: float
    meter: int | None = None

    def args(self) -> list[Any]:
        return [self.bpm, *([] if self.meter is None else [self.meter])]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Tempo":
        arity(args, 1, 2)
        bpm = PARAMS["tempo"].coerce(number(args[0], "tempo"))
        meter = PARAMS["meter"].coerce(number(args[1], "meter")) if len(args) == 2 else None
        return cls(float(bpm), None if meter is None else int(meter))


# -- notes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteOn(Request):
    address: ClassVar[str] = f"{ROOT}/note/on"
    aliases: ClassVar[tuple[str, ...]] = ("/noteon",)
    pitch: int
    velocity: int = 100

    def args(self) -> list[Any]:
        return [self.pitch, self.velocity]

    @classmethod
    def from_args(cls, args: list[Any]) -> "NoteOn":
        arity(args, 1, 2)
        velocity = pitch(args[1]) if len(args) == 2 else 100  # same 0-127 range as a pitch, checked first
        return cls(pitch(args[0]), velocity)


@dataclass(frozen=True)
class NoteOff(Request):
    address: ClassVar[str] = f"{ROOT}/note/off"
    aliases: ClassVar[tuple[str, ...]] = ("/noteoff",)
    pitch: int

    def args(self) -> list[Any]:
        return [self.pitch]

    @classmethod
    def from_args(cls, args: list[Any]) -> "NoteOff":
        arity(args, 1, 2)  # some hosts send a release velocity
        return cls(pitch(args[0]))


@dataclass(frozen=True)
class NotesClear(Request):
    address: ClassVar[str] = f"{ROOT}/notes/clear"


@dataclass(frozen=True)
class Reset(Request):
    address: ClassVar[str] = f"{ROOT}/reset"
    aliases: ClassVar[tuple[str, ...]] = ("/reset",)

    @classmethod
    def from_args(cls, args: list[Any]) -> "Reset":
        arity(args, 0, 1)  # the official panels send a bang's 1
        return cls()


@dataclass(frozen=True)
class RestFade(Request):
    """A fade of the whole output over `seconds` (0-3600, default 3): to rest, or back from it."""

    seconds: float = 3.0

    def args(self) -> list[Any]:
        return [self.seconds]

    @classmethod
    def from_args(cls, args: list[Any]) -> "RestFade":
        arity(args, 0, 1)
        return cls(rest_seconds(args[0]) if args else 3.0)


@dataclass(frozen=True)
class Stop(RestFade):
    """Fade the output to silence over `seconds` and let the engine rest (a therapist's stop)."""

    address: ClassVar[str] = f"{ROOT}/stop"


@dataclass(frozen=True)
class Start(RestFade):
    """Wake the engine and fade the output back in over `seconds`."""

    address: ClassVar[str] = f"{ROOT}/start"


MAX_REST_FADE_S = 3600.0  # as long as a scene's longest fade


def rest_seconds(value: Any) -> float:
    seconds = number(value, "seconds")
    if not 0.0 <= seconds <= MAX_REST_FADE_S:
        raise ValueError(f"seconds is 0 to {MAX_REST_FADE_S:.0f}")
    return float(seconds)


# -- scenes, cues, learning ----------------------------------------------------------------


@dataclass(frozen=True)
class SceneLoad(Request):
    address: ClassVar[str] = f"{ROOT}/scene/load"
    on_the_grid: ClassVar[bool] = False  # loading takes its own time; a scene's cues are what go on the grid
    name: str

    def args(self) -> list[Any]:
        return [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "SceneLoad":
        arity(args, 1)
        return cls(name_text(args[0], "scene name"))


@dataclass(frozen=True)
class Cue(Request):
    """Go to a cue (a number names one too), now or at `when` on the grid."""

    address: ClassVar[str] = f"{ROOT}/cue"
    name: str
    when: When | None = None

    def args(self) -> list[Any]:
        return [self.name, *([] if self.when is None else [when_text(self.when)])]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Cue":
        arity(args, 1, 2)
        value = args[0]
        when = parse_when(text(args[1], "when")) if len(args) == 2 else None
        if isinstance(value, str):
            return cls(name_text(value, "cue"), when)
        return cls(str(int(bounded(value, "cue number", 0, MAX_SLOT))), when)


@dataclass(frozen=True)
class CueNext(Request):
    address: ClassVar[str] = f"{ROOT}/cue/next"
    when: When | None = None

    def args(self) -> list[Any]:
        return [] if self.when is None else [when_text(self.when)]

    @classmethod
    def from_args(cls, args: list[Any]) -> "CueNext":
        arity(args, 0, 1)
        return cls(parse_when(text(args[0], "when")) if args else None)


@dataclass(frozen=True)
class Learn(Request):
    """MIDI learn: the next control moved maps to `name` as `kind` (param, axis, weight, cue, toggle)."""

    address: ClassVar[str] = f"{ROOT}/learn"
    on_the_grid: ClassVar[bool] = False
    name: str
    kind: str = "param"

    def args(self) -> list[Any]:
        return [self.name] if self.kind == "param" else [self.kind, self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Learn":
        arity(args, 1, 2)
        words = [name_text(a, "learn target") for a in args]
        kind, name = (words if len(words) == 2 else ["param", words[0]])
        return cls(name, kind)


@dataclass(frozen=True)
class At(Request):
    """`request` at the `when`-th next beat or bar: decoded with its own class."""

    address: ClassVar[str] = f"{ROOT}/at"
    on_the_grid: ClassVar[bool] = False
    when: When
    request: Request

    def args(self) -> list[Any]:
        return [when_text(self.when), self.request.address, *self.request.args()]

    @classmethod
    def from_args(cls, args: list[Any]) -> "At":
        if len(args) < 2:
            raise ValueError("wants: when (beat, bar, 'N bars'), then an address and its arguments")
        when = parse_when(text(args[0], "when"))
        address = text(args[1], "address")
        kind = REQUESTS.get(address)
        if kind is None or not kind.on_the_grid:
            raise ValueError(f"{address} cannot be put on the grid")
        return cls(when, kind.from_args(list(args[2:])))


# -- replies, leases and the model -----------------------------------------------------------


@dataclass(frozen=True)
class Status(Request):
    address: ClassVar[str] = f"{ROOT}/status"
    on_the_grid: ClassVar[bool] = False


@dataclass(frozen=True)
class Sync(Request):
    address: ClassVar[str] = f"{ROOT}/sync"
    on_the_grid: ClassVar[bool] = False


@dataclass(frozen=True)
class Ping(Request):
    """Anything: the pong echoes it (a token, a fence)."""

    address: ClassVar[str] = f"{ROOT}/ping"
    on_the_grid: ClassVar[bool] = False
    values: tuple[Any, ...] = ()

    def args(self) -> list[Any]:
        return list(self.values)

    @classmethod
    def from_args(cls, args: list[Any]) -> "Ping":
        return cls(tuple(args))


@dataclass(frozen=True)
class Hello(Request):
    """No cookie (or 0): ask for one; the cookie: prove the address is the sender's.

    Asked as `/mrt/hello 0`, the request is 20 bytes, as large as the cookie's reply, so an
    address that has proven nothing yet is answered without the daemon amplifying anything."""

    address: ClassVar[str] = f"{ROOT}/hello"
    cookie: int | None = None

    def args(self) -> list[Any]:
        return [0] if self.cookie is None else [self.cookie]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Hello":
        arity(args, 0, 1)
        cookie = None if not args else int(bounded(args[0], "cookie", 0, 2**32 - 1))
        return cls(cookie or None)  # 0 asks, as no argument does (no cookie is 0)


@dataclass(frozen=True)
class Subscribe(Request):
    """State pushes to `port` on the sender's host (None: the port it sent from)."""

    address: ClassVar[str] = f"{ROOT}/subscribe"
    on_the_grid: ClassVar[bool] = False
    port: int | None = None

    def args(self) -> list[Any]:
        return [] if self.port is None else [self.port]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Subscribe":
        arity(args, 0, 1)
        if not args:
            return cls(None)
        port = number(args[0], "port")
        if port != int(port) or not 1 <= port <= 65535:
            raise ValueError(f"port must be 1-65535, got {args[0]}")
        return cls(int(port))


@dataclass(frozen=True)
class Unsubscribe(Subscribe):
    address: ClassVar[str] = f"{ROOT}/unsubscribe"


@dataclass(frozen=True)
class Prefill(Request):
    """mrt2: the model's context from this audio file (None: silence)."""

    address: ClassVar[str] = f"{ROOT}/prefill"
    name: str | None = None

    def args(self) -> list[Any]:
        return [] if self.name is None else [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Prefill":
        arity(args, 0, 1)
        return cls(name_text(args[0], "audio file name", MAX_FILE_NAME) if args else None)


@dataclass(frozen=True)
class Model(Request):
    address: ClassVar[str] = f"{ROOT}/model"
    name: str

    def args(self) -> list[Any]:
        return [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Model":
        arity(args, 1)
        name = text(args[0], "model name")
        if not all(ch.isalnum() or ch in "_-." for ch in name) or name.startswith("."):
            raise ValueError(f"a model name is letters, digits, '_', '-' and '.', got {name!r}")
        return cls(name)


@dataclass(frozen=True)
class RecordStart(Request):
    address: ClassVar[str] = f"{ROOT}/record/start"
    on_the_grid: ClassVar[bool] = False
    name: str | None = None

    def args(self) -> list[Any]:
        return [] if self.name is None else [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "RecordStart":
        arity(args, 0, 1)
        return cls(name_text(args[0], "recording name") if args else None)


@dataclass(frozen=True)
class RecordStop(Request):
    address: ClassVar[str] = f"{ROOT}/record/stop"
    on_the_grid: ClassVar[bool] = False


# -- dialects: raw arguments, read by their parsers ---------------------------------------------


@dataclass(frozen=True)
class Dialect(Request):
    """A dialect's message as it came: name/value pairs or glyph values, whose meaning depends on
    the daemon's settings (`dirt.sounds`, the prompts' order, the tempo), so its parser in the
    daemon reads `values` rather than this class checking them."""

    values: tuple[Any, ...] = ()

    def args(self) -> list[Any]:
        return list(self.values)

    @classmethod
    def from_args(cls, args: list[Any]) -> "Dialect":
        return cls(tuple(args))


@dataclass(frozen=True)
class Event(Dialect):
    """A named-argument event, as TidalCycles sends it (the table's `event` reads it)."""

    address: ClassVar[str] = f"{ROOT}/event"


@dataclass(frozen=True)
class DirtPlay(Dialect):
    """A SuperDirt event, Tidal's and Strudel's (dirt.py reads it)."""

    address: ClassVar[str] = "/dirt/play"
    aliases: ClassVar[tuple[str, ...]] = ("/play2",)


@dataclass(frozen=True)
class OrcaNote(Dialect):
    """ORCA `=n`: a note (orca.py reads these)."""

    address: ClassVar[str] = "/n"


@dataclass(frozen=True)
class OrcaParam(Dialect):
    """ORCA `=p`: a parameter."""

    address: ClassVar[str] = "/p"


@dataclass(frozen=True)
class OrcaWeight(Dialect):
    """ORCA `=w`: a prompt's weight."""

    address: ClassVar[str] = "/w"


@dataclass(frozen=True)
class OrcaCue(Dialect):
    """ORCA `=c`: a cue."""

    address: ClassVar[str] = "/c"


@dataclass(frozen=True)
class OrcaTempo(Dialect):
    """ORCA `=t`: the tempo."""

    address: ClassVar[str] = "/t"


@dataclass(frozen=True)
class OrcaClear(Dialect):
    """ORCA `=x`: release every note."""

    address: ClassVar[str] = "/x"


def _every_request(kind: type[Request]) -> list[type[Request]]:
    """`kind`'s subclasses that have an address, depth first (Unsubscribe after Subscribe)."""
    found: list[type[Request]] = []
    for sub in kind.__subclasses__():
        if "address" in sub.__dict__:
            found.append(sub)
        found += _every_request(sub)
    return found


# Every address a request may be sent to (aliases included) -> its class.
REQUESTS: dict[str, type[Request]] = {
    address: kind for kind in _every_request(Request) for address in (kind.address, *kind.aliases)
}


def decode(address: str, args: list[Any]) -> Request:
    """The typed request for a message; ValueError for arguments that do not fit, KeyError for
    an address that is no request (a scene's controller mapping may still listen on it)."""
    return REQUESTS[address].from_args(list(args))
