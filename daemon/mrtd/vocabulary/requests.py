"""What the daemon is asked: one typed request per address, for both sides.

A client builds a request and sends `message()`; the daemon decodes what
arrived with the class's `from_args` (or `decode`) and gets the same object
back: one definition of each request, as supriya's requests are, beside the
replies in `replies.py`. The OSC table (inputs/osc/table.py) names each
row's class, and the web page's JSON messages decode through the same rows.

Each request declares its fields with the check that decodes each argument
(`arg`, `rest`: vocabulary/fields.py), and gets from them `args()`,
`from_args` and the signature docs/osc.md shows. `from_args` does every check
that needs nothing but the arguments (arity, types, text length, finite
numbers, a parameter's range) and raises ValueError with the reason the
sender hears as `/mrt/error`. What needs the running daemon (does that prompt
exist, is a scene loaded, a configured limit) is the handler's to check.

The live coders' dialects (`/mrt/event`, `/dirt/play`, ORCA's `/n` ...) are
name/value or glyph streams whose meaning depends on the daemon's settings;
their requests carry the raw arguments and their parsers (dirt.py, orca.py,
the table's `event`) read them.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.vocabulary import values as checks
from mrtd.vocabulary.codec import ROOT, Message
from mrtd.vocabulary.fields import Declared, arg, rest
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.values import (
    CURVES, MAX_FILE_NAME, MAX_SLOT, MAX_TEXT, arity, bounded, name_text, number, parse_length, parse_when, prompt_name, text, weight,
    when_text,
)

When = tuple[str, int]  # ("beat" or "bar", count): the count-th next boundary
# A style embedding's values lie within +-1 or so (MusicCoCa's are unit length): a thousand
# leaves room for any hand-made one, and keeps a blend's sums far from float32 overflow.
MAX_EMBEDDING = 1000.0


class Request(Declared):
    """A request: a frozen dataclass whose `args`, `from_args` and `signature` come from its
    declared fields (no @dataclass on a subclass: `Declared` makes each one)."""

    address: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other addresses that decode to this class
    on_the_grid: ClassVar[bool] = True  # whether /mrt/at may hold it back to a beat or bar

    def message(self) -> Message:
        return (self.address, self.args())


def when_value(value: Any) -> When:
    """A place on the grid: 'beat', 'bar', 'next bar', 'N bars' (its text: `when_text`)."""
    return parse_when(text(value, "when"))


# -- prompts and the mix ---------------------------------------------------------------


class Prompt(Request):
    """mrtd's own prompt: a name, or a slot counted from 1 (the official `/prompt`, whose six
    slots count from 0, is `OfficialPrompt` below)."""

    address: ClassVar[str] = f"{ROOT}/prompt"
    on_the_grid: ClassVar[bool] = False  # encoding takes its own time; a prompt joins the mix when ready
    name: str = arg(prompt_name, "name-or-slot")
    text: str = arg(lambda value: checks.text(value, "prompt text"), "text")
    weight: float | None = arg(checks.weight, "weight", default=None)


class PromptClear(Request):
    address: ClassVar[str] = f"{ROOT}/prompt/clear"
    name: str = arg(prompt_name, "name-or-slot")


class Mix(Request):
    """A target mix, reached over `fade` `unit`s ("s", "beat" or "bar") along `curve`.

    Its wire form is its own, not one argument per field: name weight pairs whose count is not
    fixed, told from a trailing fade by the arguments' types, and a fade in beats or bars that
    travels as one text ('4 beats') carrying two fields."""

    address: ClassVar[str] = f"{ROOT}/mix"
    signature: ClassVar[str] = "name w [name w ...] [fade [curve]]"
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
        # Names are text or mrtd's slot numbers, counted from 1 (mrtd's own Max patch and Pd
        # panel send `/mrt/mix 1 0.5 2 0.5`; the official externals have no mix message).
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


class Weight(Request):
    address: ClassVar[str] = f"{ROOT}/weight"
    name: str = arg(prompt_name, "name-or-slot")
    weight: float = arg(checks.weight, "w")


def axis_key(value: Any) -> int | str:
    """A PCA axis by index (0-5) or a scene's axis by name."""
    if isinstance(value, str):
        return name_text(value, "axis")
    index = number(value, "axis index")
    if index != int(index) or not 0 <= index <= 5:
        raise ValueError(f"axis index is 0-5 or an axis name, got {value}")
    return int(index)


def axis_value(value: Any) -> float:
    offset = number(value, "axis value")
    if not -10.0 <= offset <= 10.0:
        raise ValueError(f"axis value lies in [-10, 10], got {offset}")
    return offset


class Axis(Request):
    """A signed offset along PCA axis 0-5 (an int) or a scene's named axis (text)."""

    address: ClassVar[str] = f"{ROOT}/axis"
    aliases: ClassVar[tuple[str, ...]] = ("/pca",)
    axis: int | str = arg(axis_key, "index-or-name")
    value: float = arg(axis_value, "value")


def coordinate(what: str) -> Callable[[Any], float]:
    """The check of one coordinate of the 2-D surface, named `what`."""
    def check(value: Any) -> float:
        position = number(value, what)
        if not -1e6 < position < 1e6:
            raise ValueError("x and y must be reasonable coordinates")
        return position
    return check


class XY(Request):
    address: ClassVar[str] = f"{ROOT}/xy"
    x: float = arg(coordinate("x"), "x")
    y: float = arg(coordinate("y"), "y")


class StyleTokens(Request):
    """Raw style tokens (-1 masked); None returns to the prompt blend."""

    address: ClassVar[str] = f"{ROOT}/style/tokens"
    tokens: tuple[int, ...] | None = rest(checks.style_tokens, "12 ints | nothing", default=None)


def embedding_blob(values: list[Any]) -> bytes:
    """A style embedding sent as one blob or as EMBEDDING_DIM numbers, as little-endian float32 bytes."""
    if len(values) == 1 and isinstance(values[0], bytes):
        if len(values[0]) != EMBEDDING_DIM * 4:
            raise ValueError(f"an embedding blob is {EMBEDDING_DIM} little-endian float32 ({EMBEDDING_DIM * 4} bytes), got {len(values[0])}")
        vector = np.frombuffer(values[0], dtype="<f4").astype(np.float32)
    else:
        arity(values, EMBEDDING_DIM)
        vector = np.array([bounded(v, "embedding value", -MAX_EMBEDDING, MAX_EMBEDDING) for v in values], dtype=np.float32)
    if not np.all(np.isfinite(vector)) or np.abs(vector).max() > MAX_EMBEDDING:
        raise ValueError(f"embedding values are finite, within +-{MAX_EMBEDDING:g}")
    return vector.astype("<f4").tobytes()


class StyleEmbedding(Request):
    """A raw style embedding as its little-endian float32 bytes (so two compare equal by value);
    None returns to the prompt blend. On the wire: a blob, or EMBEDDING_DIM numbers."""

    address: ClassVar[str] = f"{ROOT}/style/embedding"
    embedding: bytes | None = rest(embedding_blob, "768 floats | blob | nothing", default=None, encode=lambda blob: [blob])

    def vector(self) -> np.ndarray | None:
        return None if self.embedding is None else np.frombuffer(self.embedding, dtype="<f4").astype(np.float32)


# -- scalar parameters: one address each, checked against PARAMS -------------------------


def parameter(name: str) -> Callable[[Any], Any]:
    """The check of parameter `name`'s value: a number within its range, of its kind."""
    param = PARAMS[name]
    return lambda value: param.coerce(number(value, name))


class SetParam(Request):
    """A parameter of PARAMS (`param`), checked against its range and kind."""

    param: ClassVar[str]
    # Each subclass names its parameter, whose range is the check and the signature ('f 0..3').
    value: float | int = arg(by_class=lambda kind: (parameter(kind.param), PARAMS[kind.param].shown())
                             if hasattr(kind, "param") else None)


class Temperature(SetParam):
    address: ClassVar[str] = f"{ROOT}/temperature"
    aliases: ClassVar[tuple[str, ...]] = ("/temperature",)
    param: ClassVar[str] = "temperature"


class TopK(SetParam):
    address: ClassVar[str] = f"{ROOT}/topk"
    aliases: ClassVar[tuple[str, ...]] = ("/topk",)
    param: ClassVar[str] = "top_k"


class Seed(SetParam):
    address: ClassVar[str] = f"{ROOT}/seed"
    param: ClassVar[str] = "seed"


class SeedRotation(SetParam):
    """The official name for the seed: a row of its own, as the official panels send it."""

    address: ClassVar[str] = "/seedrotation"
    param: ClassVar[str] = "seed"


class CfgStyle(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/style"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgmusiccoca",)
    param: ClassVar[str] = "cfg_style"


class CfgNotes(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/notes"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgnotes",)
    param: ClassVar[str] = "cfg_notes"


class CfgDrums(SetParam):
    address: ClassVar[str] = f"{ROOT}/cfg/drums"
    aliases: ClassVar[tuple[str, ...]] = ("/cfgdrums",)
    param: ClassVar[str] = "cfg_drums"


class Unmask(SetParam):
    address: ClassVar[str] = f"{ROOT}/unmask"
    aliases: ClassVar[tuple[str, ...]] = ("/unmaskwidth",)
    param: ClassVar[str] = "unmask"


class OnsetMode(SetParam):
    address: ClassVar[str] = f"{ROOT}/onset_mode"
    aliases: ClassVar[tuple[str, ...]] = ("/onsetmode",)
    param: ClassVar[str] = "onset_mode"


class Drums(SetParam):
    address: ClassVar[str] = f"{ROOT}/drums"
    param: ClassVar[str] = "drums"


class Volume(SetParam):
    address: ClassVar[str] = f"{ROOT}/volume"
    aliases: ClassVar[tuple[str, ...]] = ("/volume",)
    param: ClassVar[str] = "volume"


class Meter(SetParam):
    address: ClassVar[str] = f"{ROOT}/meter"
    param: ClassVar[str] = "meter"


class Switch(Request):
    """On or off: no argument means on; otherwise 0 or 1."""

    on: bool = arg(checks.switch, "0|1", default=True, encode=int)


class ParamSwitch(Switch):
    """A switch that is a parameter of PARAMS (`param`)."""

    param: ClassVar[str]


class Midigate(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/midigate"
    aliases: ClassVar[tuple[str, ...]] = ("/midigate",)
    param: ClassVar[str] = "midigate"


class Mute(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/mute"
    aliases: ClassVar[tuple[str, ...]] = ("/mute",)
    param: ClassVar[str] = "mute"


class Bypass(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/bypass"
    aliases: ClassVar[tuple[str, ...]] = ("/bypass",)
    param: ClassVar[str] = "bypass"


class ListenNotes(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/listen/notes"
    param: ClassVar[str] = "listen_notes"


class ListenTempo(ParamSwitch):
    address: ClassVar[str] = f"{ROOT}/listen/tempo"
    param: ClassVar[str] = "listen_tempo"


class ListenStyle(SetParam):
    address: ClassVar[str] = f"{ROOT}/listen/style"
    param: ClassVar[str] = "listen_style"


class Drumless(Switch):
    """The official switch: on = no drums, off = the model decides."""

    address: ClassVar[str] = "/drumless"


class Tempo(Request):
    address: ClassVar[str] = f"{ROOT}/tempo"
    bpm: float = arg(parameter("tempo"), PARAMS["tempo"].shown())
    meter: int | None = arg(parameter("meter"), "meter", default=None)


# -- notes -----------------------------------------------------------------------------


class NoteOn(Request):
    address: ClassVar[str] = f"{ROOT}/note/on"
    aliases: ClassVar[tuple[str, ...]] = ("/noteon",)
    pitch: int = arg(checks.pitch, "pitch")
    velocity: int = arg(checks.pitch, "velocity", default=100)  # the same 0-127 range as a pitch


class NoteOff(Request):
    address: ClassVar[str] = f"{ROOT}/note/off"
    aliases: ClassVar[tuple[str, ...]] = ("/noteoff",)
    ignored: ClassVar[int] = 1  # some hosts send a release velocity
    pitch: int = arg(checks.pitch, "pitch")


class NotesClear(Request):
    address: ClassVar[str] = f"{ROOT}/notes/clear"


class Reset(Request):
    address: ClassVar[str] = f"{ROOT}/reset"
    aliases: ClassVar[tuple[str, ...]] = ("/reset",)
    ignored: ClassVar[int] = 1  # the official panels send a bang's 1


MAX_REST_FADE_S = 3600.0  # as long as a scene's longest fade


def rest_seconds(value: Any) -> float:
    seconds = number(value, "seconds")
    if not 0.0 <= seconds <= MAX_REST_FADE_S:
        raise ValueError(f"seconds is 0 to {MAX_REST_FADE_S:.0f}")
    return float(seconds)


class RestFade(Request):
    """A fade of the whole output over `seconds` (0-3600, default 3): to rest, or back from it."""

    seconds: float = arg(rest_seconds, "seconds 0..3600, default 3", default=3.0)


class Stop(RestFade):
    """Fade the output to silence over `seconds` and let the engine rest (a therapist's stop)."""

    address: ClassVar[str] = f"{ROOT}/stop"


class Start(RestFade):
    """Wake the engine and fade the output back in over `seconds`."""

    address: ClassVar[str] = f"{ROOT}/start"


# -- scenes, cues, learning ----------------------------------------------------------------


class SceneLoad(Request):
    address: ClassVar[str] = f"{ROOT}/scene/load"
    on_the_grid: ClassVar[bool] = False  # loading takes its own time; a scene's cues are what go on the grid
    name: str = arg(lambda value: name_text(value, "scene name"), "name")


def cue_name(value: Any) -> str:
    """A cue by name, or by number (which names it too)."""
    if isinstance(value, str):
        return name_text(value, "cue")
    return str(int(bounded(value, "cue number", 0, MAX_SLOT)))


class Cue(Request):
    """Go to a cue (a number names one too), now or at `when` on the grid."""

    address: ClassVar[str] = f"{ROOT}/cue"
    name: str = arg(cue_name, "name-or-number")
    when: When | None = arg(when_value, "when", default=None, encode=when_text)


class CueNext(Request):
    address: ClassVar[str] = f"{ROOT}/cue/next"
    when: When | None = arg(when_value, "when", default=None, encode=when_text)


class Learn(Request):
    """MIDI learn: the next control moved maps to `name` as `kind` (param, axis, weight, cue, toggle).

    Its wire form is its own: the optional kind comes first ('axis warmth'), which no trailing
    optional field can say."""

    address: ClassVar[str] = f"{ROOT}/learn"
    on_the_grid: ClassVar[bool] = False
    signature: ClassVar[str] = "[kind] name"
    name: str
    kind: str = "param"

    def args(self) -> list[Any]:
        return [self.name] if self.kind == "param" else [self.kind, self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Learn":
        arity(args, 1, 2, cls.signature)
        words = [name_text(a, "learn target") for a in args]
        kind, name = (words if len(words) == 2 else ["param", words[0]])
        return cls(name, kind)


def grid_request(values: list[Any]) -> Request:
    """An address and its arguments, decoded by the address's own class, if it may wait for the grid."""
    address = text(values[0], "address")
    kind = REQUESTS.get(address)
    if kind is None or not kind.on_the_grid:
        raise ValueError(f"{address} cannot be put on the grid")
    return kind.from_args(values[1:])


class At(Request):
    """`request` at the `when`-th next beat or bar: decoded with its own class."""

    address: ClassVar[str] = f"{ROOT}/at"
    on_the_grid: ClassVar[bool] = False
    when: When = arg(when_value, "when", encode=when_text)
    request: Request = rest(grid_request, "address args...", encode=lambda request: [request.address, *request.args()])


# -- replies, leases and the model -----------------------------------------------------------


class Status(Request):
    address: ClassVar[str] = f"{ROOT}/status"
    on_the_grid: ClassVar[bool] = False


class Sync(Request):
    address: ClassVar[str] = f"{ROOT}/sync"
    on_the_grid: ClassVar[bool] = False


class Ping(Request):
    """Anything: the pong echoes it (a token, a fence)."""

    address: ClassVar[str] = f"{ROOT}/ping"
    on_the_grid: ClassVar[bool] = False
    values: tuple[Any, ...] = rest(tuple, "[anything]", default=())


def cookie_value(value: Any) -> int | None:
    """A hello's cookie; 0 asks for one, as no argument does (no cookie is 0)."""
    return int(bounded(value, "cookie", 0, 2**32 - 1)) or None


class Hello(Request):
    """No cookie (or 0): ask for one; the cookie: prove the address is the sender's.

    Asked as `/mrt/hello 0`, the request is 20 bytes, as large as the cookie's reply, so an
    address that has proven nothing yet is answered without the daemon amplifying anything:
    `args()` sends the 0 that asks, and the signature shows it."""

    address: ClassVar[str] = f"{ROOT}/hello"
    signature: ClassVar[str] = "0 | cookie"
    cookie: int | None = arg(cookie_value, "cookie", default=None)

    def args(self) -> list[Any]:
        return [0] if self.cookie is None else [self.cookie]


def port_value(value: Any) -> int:
    port = number(value, "port")
    if port != int(port) or not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {value}")
    return int(port)


class Subscribe(Request):
    """State pushes to `port` on the sender's host (None: the port it sent from)."""

    address: ClassVar[str] = f"{ROOT}/subscribe"
    on_the_grid: ClassVar[bool] = False
    port: int | None = arg(port_value, "port", default=None)


class Unsubscribe(Subscribe):
    address: ClassVar[str] = f"{ROOT}/unsubscribe"


class Prefill(Request):
    """mrt2: the model's context from this audio file (None: silence)."""

    address: ClassVar[str] = f"{ROOT}/prefill"
    name: str | None = arg(lambda value: name_text(value, "audio file name", MAX_FILE_NAME), "audio name", default=None)


class PrefillTokens(Request):
    """mrt2: the model's context teacher-forced from raw tokens saved in a .npy in the audio folder."""

    address: ClassVar[str] = f"{ROOT}/prefill/tokens"
    name: str = arg(lambda value: name_text(value, "tokens file name", MAX_FILE_NAME), "tokens file name")


class TokensSave(Request):
    """mrt2: tokens out, the raw audio tokens made since the music last started, as a new .npy in
    the audio folder (what /mrt/prefill/tokens reads back)."""

    address: ClassVar[str] = f"{ROOT}/tokens/save"
    name: str = arg(lambda value: name_text(value, "tokens file name", MAX_FILE_NAME), "tokens file name")


def model_name(value: Any) -> str:
    name = text(value, "model name")
    if not all(ch.isalnum() or ch in "_-." for ch in name) or name.startswith("."):
        raise ValueError(f"a model name is letters, digits, '_', '-' and '.', got {name!r}")
    return name


class Model(Request):
    address: ClassVar[str] = f"{ROOT}/model"
    name: str = arg(model_name, "name")


class RecordStart(Request):
    address: ClassVar[str] = f"{ROOT}/record/start"
    on_the_grid: ClassVar[bool] = False
    name: str | None = arg(lambda value: name_text(value, "recording name"), "name", default=None)


class RecordStop(Request):
    address: ClassVar[str] = f"{ROOT}/record/stop"
    on_the_grid: ClassVar[bool] = False


# -- dialects: raw arguments, read by their parsers ---------------------------------------------


class Dialect(Request):
    """A dialect's message as it came: name/value pairs or glyph values, whose meaning depends on
    the daemon's settings (`dirt.sounds`, the prompts' order, the tempo), so its parser in the
    daemon reads `values` rather than this class checking them; each names its signature, which
    is its parser's, not its fields'."""

    values: tuple[Any, ...] = rest(tuple, "", default=())


class Event(Dialect):
    """A named-argument event, as TidalCycles sends it (the table's `event` reads it)."""

    address: ClassVar[str] = f"{ROOT}/event"
    signature: ClassVar[str] = "name value ..."


class DirtPlay(Dialect):
    """A SuperDirt event, Tidal's and Strudel's (dirt.py reads it)."""

    address: ClassVar[str] = "/dirt/play"
    aliases: ClassVar[tuple[str, ...]] = ("/play2",)
    signature: ClassVar[str] = "name value ..."


class OrcaNote(Dialect):
    """ORCA `=n`: a note (orca.py reads these)."""

    address: ClassVar[str] = "/n"
    signature: ClassVar[str] = "octave semitone [velocity [length]]"


class OrcaParam(Dialect):
    """ORCA `=p`: a parameter."""

    address: ClassVar[str] = "/p"
    signature: ClassVar[str] = "index value"


class OrcaWeight(Dialect):
    """ORCA `=w`: a prompt's weight."""

    address: ClassVar[str] = "/w"
    signature: ClassVar[str] = "slot value"


class OrcaCue(Dialect):
    """ORCA `=c`: a cue."""

    address: ClassVar[str] = "/c"
    signature: ClassVar[str] = "number"


class OrcaTempo(Dialect):
    """ORCA `=t`: the tempo."""

    address: ClassVar[str] = "/t"
    signature: ClassVar[str] = "high low"


class OrcaClear(Dialect):
    """ORCA `=x`: release every note."""

    address: ClassVar[str] = "/x"


# -- the official front ends' own forms ---------------------------------------------------------
# What the official Max and Pd externals and the SuperCollider class send (magenta-realtime
# 2.0.3: examples/max/mrt_tilde.mm, examples/pd/mrt_tilde.mm, examples/sc/MRT2.mm) where it is
# not mrtd's form: their six prompt slots count from 0 (`kMaxPrompts`), their weights clamp to
# [0, 1]. mrtd's own `/mrt/...` addresses keep their slots counted from 1 and their ranges.
# Read from the official code, not copied. Kept together, one block, so merges stay easy.

OFFICIAL_SLOTS = 6  # the externals' prompt slots, 0-5
OFFICIAL_WEIGHT_RANGE = (0.0, 1.0)  # `mrt_prompt` and `MRT2_cmd_prompt` clamp the weight to it
MAX_OFFICIAL_WEIGHT = 1e6  # what a weight may be sent as before the clamp (every number is bounded)


def official_slot(value: Any) -> int:
    """An official prompt slot: a number 0-5 (the externals refuse a name or a slot past 5)."""
    if isinstance(value, str):
        raise ValueError(f"an official prompt slot is a number 0-{OFFICIAL_SLOTS - 1}, got text {value!r}")
    return checks.whole(value, "an official prompt slot", 0, OFFICIAL_SLOTS - 1)


def official_slot_name(slot: int) -> str:
    """The mrtd prompt an official slot is: its slot counted from 1 (official 0 is mrtd's `1`),
    so `/prompt 0 ...` and `/mrt/prompt 1 ...` set the same prompt."""
    return str(slot + 1)


def clamp_official_weight(weight: float) -> float:
    low, high = OFFICIAL_WEIGHT_RANGE
    return min(max(weight, low), high)


class OfficialPrompt(Request):
    """`prompt N [text... [weight]]` as the externals take it: N is slot 0-5; no text clears the
    slot; the text is every word after the slot (Pd has no quoting, so `prompt 0 warm pads 0.8`
    is the text 'warm pads'); a trailing number is the weight, 1 when left off, clamped to
    [0, 1] (the handler applies the clamp and says so). Where Pd skips a number among the words,
    mrtd refuses it: the sender hears why rather than losing a word."""

    address: ClassVar[str] = "/prompt"
    signature: ClassVar[str] = "slot 0-5 [text... [weight 0..1]]"
    on_the_grid: ClassVar[bool] = False  # as Prompt: encoding takes its own time
    slot: int
    text: str | None = None
    weight: float = 1.0

    def args(self) -> list[Any]:
        return [self.slot] if self.text is None else [self.slot, self.text, self.weight]

    @classmethod
    def from_args(cls, args: list[Any]) -> "OfficialPrompt":
        arity(args, 1, MAX_TEXT, cls.signature)
        slot = official_slot(args[0])
        if len(args) == 1:
            return cls(slot)
        words = list(args[1:])
        weight = 1.0
        if len(words) > 1 and isinstance(words[-1], (int, float)) and not isinstance(words[-1], bool):
            weight = bounded(words.pop(), "weight", -MAX_OFFICIAL_WEIGHT, MAX_OFFICIAL_WEIGHT)
        if not all(isinstance(word, str) for word in words):
            raise ValueError("an official prompt's text is words after the slot, then at most one number (the weight)")
        return cls(slot, checks.text(" ".join(words), "prompt text"), float(weight))


class OfficialPromptClear(Request):
    """`prompt_clear N` (the SuperCollider class): empty official slot N, 0-5."""

    address: ClassVar[str] = "/prompt_clear"
    slot: int = arg(official_slot, "slot 0-5")



class BufferSize(Request):
    """`buffersize N`: how many samples the official runner keeps ahead (the externals' message,
    the AU plugin's 2048/4096/8192), answered with the latency preset it is in mrtd."""

    address: ClassVar[str] = f"{ROOT}/buffersize"
    aliases: ClassVar[tuple[str, ...]] = ("/buffersize",)
    on_the_grid: ClassVar[bool] = False  # answered at once: nothing to land on a beat
    samples: int = arg(lambda value: checks.whole(value, "buffer size", 0, 1_000_000), "samples")


STATE_BANKS = 16  # core/banks.py MAX_BANKS: one per pad of a 4x4 controller (the official plugin has 3)


def state_bank(value: Any) -> int:
    return checks.whole(value, "a state bank", 1, STATE_BANKS)


class StateSave(Request):
    """Save the engine's state (the music itself) into bank N of the state folder."""

    address: ClassVar[str] = f"{ROOT}/state/save"
    on_the_grid: ClassVar[bool] = False  # saved at the next frame: nothing to land on a beat
    bank: int = arg(state_bank, f"bank 1..{STATE_BANKS}")


class StateLoad(Request):
    """Load bank N into a copy of the engine and crossfade to it: the music saved goes on."""

    address: ClassVar[str] = f"{ROOT}/state/load"
    on_the_grid: ClassVar[bool] = False  # it crossfades in once the copy is ready
    bank: int = arg(state_bank, f"bank 1..{STATE_BANKS}")


class StateFactory(Request):
    """Back to the model's own initial state, crossfaded (the official plugin's Empty)."""

    address: ClassVar[str] = f"{ROOT}/state/factory"
    on_the_grid: ClassVar[bool] = False
    ignored: ClassVar[int] = 1  # a bang's 1 from a panel


class Solo(ParamSwitch):
    """The Jam app's Solo (on) or Accompany (off): examples/jam (JamApp.mm, JamAppController.mm,
    ui/src/App.tsx `handleModeChange`). No official address: the app's own switch."""

    address: ClassVar[str] = f"{ROOT}/solo"
    param: ClassVar[str] = "solo"


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
