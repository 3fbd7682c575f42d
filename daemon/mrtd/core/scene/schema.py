"""What a scene file may say, as pydantic models (DESIGN section 5).

Every model forbids unknown keys, so a misspelt key is an error with a
"did you mean" rather than a silently ignored line. Cross-references (a cue
naming a prompt that does not exist) are checked in `Scene.check_references`,
which reports every problem at once.

A scene is untrusted (anyone allowed to send OSC can load one), and what it
says flows into status replies, feedback pushes and logs. The file is bounded
in bytes, depth and aliases before it is parsed (yamlcheck.py); the limits
below bound what those bytes may hold, so a 4 MB file cannot carry tens of
thousands of prompts or a megabyte-long name. Limit errors name the limit and
never quote the value.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.control.state import MAX_PROMPTS
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.requests import STATE_BANKS
from mrtd.vocabulary.values import CURVES, MAX_PROMPT_NAME, MAX_TEXT, readable
from mrtd.core.scene.wallclock import CLOCK_TIME, DAYS, parse_clock_time, zone
from mrtd.yamlcheck import shown

# What OSC allows for a prompt (vocabulary/values.py), so a scene cannot install what
# /mrt/prompt would refuse.
MAX_PROMPT_NAME_CHARS = MAX_PROMPT_NAME
MAX_PROMPT_TEXT_CHARS = MAX_TEXT
# Sizes no real scene comes near (the examples have under 10 of each), so they refuse only
# abuse: they bound what a load builds and what a status reply or a log line can quote.
MAX_NAME_CHARS = 128  # a scene's, a cue's or an axis's name; a parameter name in a mapping
MAX_CUES = 1000
MAX_MAPPINGS = 1000  # each is checked against every incoming MIDI and OSC message
MAX_AXES = 64  # each is a pair of prompts; as many as there can be prompts
MAX_FILE_NAME_CHARS = 1024  # `pca:` and prompts' `audio:`, relative paths included
MAX_OSC_ADDRESS_CHARS = 200  # as a web button's address
# Surface points are the prompts with a `position`: bounded by MAX_PROMPTS.

# Names and texts a performer reads pass the vocabulary's one rule (values.readable): no control,
# format (bidi, zero-width), surrogate, private-use or unassigned characters, as over OSC.
Readable = AfterValidator(lambda value: readable(value, "a name"))
ReadableText = AfterValidator(lambda value: readable(value, "a text", layout=True))
PromptName = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_NAME_CHARS), Readable]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS), Readable]
FileName = Annotated[str, Field(max_length=MAX_FILE_NAME_CHARS), Readable]

Curve = Literal["linear", "equal-power", "exponential", "s-curve"]
assert set(CURVES) == set(Curve.__args__)  # type: ignore[attr-defined]
MapCurve = Literal["lin", "exp", "log"]
BARS_BEATS = re.compile(r"^\s*(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    text: Annotated[str, Field(max_length=MAX_PROMPT_TEXT_CHARS), ReadableText] | None = None
    audio: FileName | None = None  # a file in the scene's folder
    embedding: list[float] | None = None
    position: tuple[float, float] | None = None  # on the 2-D surface
    weight: float = Field(0.0, ge=0.0, le=100.0)

    @model_validator(mode="after")
    def _one_source(self) -> "Prompt":
        given = [k for k in ("text", "audio", "embedding") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a prompt has exactly one of text, audio or embedding")
        if self.embedding is not None and len(self.embedding) != EMBEDDING_DIM:
            raise ValueError(f"an embedding has {EMBEDDING_DIM} values, not {len(self.embedding)}")
        return self


class Fade(Strict):
    seconds: float | None = Field(None, ge=0.0, le=3600.0)
    beats: float | None = Field(None, ge=0.0, le=10_000.0)
    bars: float | None = Field(None, ge=0.0, le=10_000.0)
    curve: Curve = "linear"

    @model_validator(mode="after")
    def _one_length(self) -> "Fade":
        if sum(v is not None for v in (self.seconds, self.beats, self.bars)) > 1:
            raise ValueError("give the fade length in one of seconds, beats or bars")
        return self


def _days(days: list[str] | None) -> list[str] | None:
    """Weekdays as three lower-case letters (mon ... sun), each named once."""
    for day in days or []:
        if day not in DAYS:
            raise ValueError(f"unknown day {shown(day)}{suggest(day.lower()[:3], DAYS)}; days are {', '.join(DAYS)}")
    if days is not None and len(set(days)) != len(days):
        raise ValueError("a day is named twice")
    return days


def _time_of_day(value: str) -> str:
    if parse_clock_time(value) is None:
        raise ValueError('a time of day is "HH:MM" or "HH:MM:SS", such as "05:30"')
    return value


Days = Annotated[list[str], Field(max_length=len(DAYS))]


def is_clock_time(at: float | str | None) -> bool:
    """Whether a cue's `at` is a time of day ("05:30"), not seconds or "bar:beat"."""
    return isinstance(at, str) and CLOCK_TIME.match(at) is not None


class Cue(Strict):
    name: Name | None = None
    # Seconds from the scene's start; "bar:beat" (1-based) with a tempo; or a time of day,
    # "HH:MM" or "HH:MM:SS" (two digits each: "10:10" is ten past ten, bar 10 beat 10 is "10:10.0").
    at: float | str | None = None
    days: Days | None = None  # with a time of day: only on these weekdays (mon ... sun)
    mix: Annotated[dict[PromptName, Annotated[float, Field(ge=0.0, le=100.0)]], Field(max_length=MAX_PROMPTS)] | None = None
    fade: Fade = Fade()  # a bare number is seconds
    set: dict[str, float | int | bool] = {}
    # A state bank loaded as the cue fires (as /mrt/state/load N; "factory": /mrt/state/factory),
    # crossfaded in as a model swap is; a bank not saved is logged and the music goes on.
    state: Annotated[int, Field(ge=1, le=STATE_BANKS, strict=True)] | Literal["factory"] | None = None

    @field_validator("fade", mode="before")
    @classmethod
    def _seconds_shorthand(cls, fade: object) -> object:
        return {"seconds": fade} if isinstance(fade, (int, float)) and not isinstance(fade, bool) else fade

    @field_validator("at")
    @classmethod
    def _at(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and CLOCK_TIME.match(value):
            parse_clock_time(value)  # ValueError for "25:00"
        elif isinstance(value, str) and not BARS_BEATS.match(value):
            raise ValueError('at is seconds, "bar:beat" such as "5:1", or a time of day such as "05:30"')
        if isinstance(value, (int, float)) and value < 0:
            raise ValueError("at must not be negative")
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[str] | None) -> list[str] | None:
        return _days(days)

    @field_validator("set")
    @classmethod
    def _params(cls, values: dict[str, float | int | bool]) -> dict[str, float | int | bool]:
        for name, value in values.items():
            if name not in PARAMS:
                raise ValueError(f"unknown parameter {shown(name)}{suggest(name, PARAMS)}")
            PARAMS[name].coerce(value)
        return values


class MidiSource(Strict):
    cc: int | None = Field(None, ge=0, le=127)
    note: int | None = Field(None, ge=0, le=127)
    bend: bool = False
    channel: int | None = Field(None, ge=1, le=16)  # None: any channel

    @model_validator(mode="after")
    def _one_control(self) -> "MidiSource":
        if sum((self.cc is not None, self.note is not None, self.bend)) != 1:
            raise ValueError("a MIDI source is one of cc, note or bend")
        return self


class OscSource(Strict):
    address: str = Field(pattern=r"^/[^\s#*,?\[\]{}]*$", max_length=MAX_OSC_ADDRESS_CHARS)
    arg: int = Field(0, ge=0, le=63)
    range: tuple[float, float] = (0.0, 1.0)  # what the sender's values span


class Source(Strict):
    midi: MidiSource | None = None
    osc: OscSource | None = None

    @model_validator(mode="after")
    def _one(self) -> "Source":
        if (self.midi is None) == (self.osc is None):
            raise ValueError("a source is midi or osc")
        return self


class Mapping(Strict):
    """One controller moving one target. Exactly one source and one target."""

    midi: MidiSource | None = None
    osc: OscSource | None = None
    # targets
    param: Name | None = None
    axis: Name | None = None
    weight: PromptName | None = None  # a prompt's weight
    cue: Name | None = None  # "go", "next", "previous" or a cue name
    toggle: Name | None = None  # a switch parameter (mute, bypass, midigate)
    surface: dict[Literal["x", "y"], Source] | None = None
    # shaping
    range: tuple[float, float] | None = None
    curve: MapCurve = "lin"
    invert: bool = False
    smoothing: float = Field(0.0, ge=0.0, le=60_000.0)  # ms

    @model_validator(mode="after")
    def _shape(self) -> "Mapping":
        targets = [k for k in ("param", "axis", "weight", "cue", "toggle", "surface") if getattr(self, k) is not None]
        if len(targets) != 1:
            raise ValueError("a mapping has exactly one target: param, axis, weight, cue, toggle or surface")
        if self.surface is not None:
            if set(self.surface) != {"x", "y"}:
                raise ValueError("a surface mapping gives both x and y sources")
            if self.midi is not None or self.osc is not None:
                raise ValueError("a surface mapping takes its sources from x and y")
        elif (self.midi is None) == (self.osc is None):
            raise ValueError("a mapping has one source: midi or osc")
        if self.param is not None:
            if self.param not in PARAMS:
                raise ValueError(f"unknown parameter {shown(self.param)}{suggest(self.param, PARAMS)}")
        if self.toggle is not None and (self.toggle not in PARAMS or PARAMS[self.toggle].kind is not bool):
            switches = [n for n, p in PARAMS.items() if p.kind is bool]
            raise ValueError(f"toggle takes a switch ({', '.join(switches)}), not {shown(self.toggle)}")
        if self.curve != "lin" and self.range is not None and self.range[0] * self.range[1] <= 0:
            raise ValueError("exp and log curves need a range that does not touch or cross zero")
        return self


class Limits(Strict):
    """Safety limits that hold whatever the input (OSC, MIDI, cues)."""

    volume_max: float = Field(12.0, ge=-60.0, le=12.0)  # dB ceiling
    fade_min: float = Field(0.0, ge=0.0, le=600.0)  # every mix change takes at least this long (s)
    params: dict[str, tuple[float, float]] = {}  # clamps

    @field_validator("params")
    @classmethod
    def _known(cls, clamps: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (low, high) in clamps.items():
            if name not in PARAMS:
                raise ValueError(f"unknown parameter {shown(name)}{suggest(name, PARAMS)}")
            if low > high:
                raise ValueError(f"{name}: the low limit {low} is above the high limit {high}")
        return clamps


class WebButton(Strict):
    label: Annotated[str, Field(min_length=1, max_length=40), Readable]
    address: str = Field(pattern=r"^/[^\s#*,?\[\]{}]*$", max_length=200)  # 1 on press, 0 on release, as a TouchOSC button


class WebLayout(Strict):
    """What the web page shows for this scene: everything, or only a few big controls."""

    layout: Literal["full", "buttons"] = "full"
    buttons: list[WebButton] = Field([], max_length=6)
    volume: bool = True  # a volume fader, within the limits

    @model_validator(mode="after")
    def _buttons(self) -> "WebLayout":
        if self.layout == "buttons" and not self.buttons:
            raise ValueError("a buttons layout names its buttons")
        return self


class Hours(Strict):
    """Opening hours: outside them the output fades out over `fade` seconds and the engine rests;
    it fades in at opening. A close at or before the open is the next day (20:00 to 02:00)."""

    open: str
    close: str
    days: Days | None = None  # the days it opens on (a night opening closes the day after)
    fade: float = Field(30.0, ge=0.0, le=3600.0)  # seconds

    @field_validator("open", "close")
    @classmethod
    def _clock(cls, value: str) -> str:
        return _time_of_day(value)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, days: list[str] | None) -> list[str] | None:
        return _days(days)

    @model_validator(mode="after")
    def _not_empty(self) -> "Hours":
        if self.open == self.close:
            raise ValueError("open and close are the same time")
        return self


class Axis(Strict):
    from_: PromptName = Field(alias="from")
    to: PromptName


class Scene(Strict):
    name: Name | None = None
    tempo: float | None = Field(None, ge=20.0, le=400.0)
    meter: int = Field(4, ge=1, le=32)  # beats per bar
    defaults: dict[str, float | int | bool] = {}
    limits: Limits | None = None
    prompts: dict[PromptName, Prompt] = Field({}, max_length=MAX_PROMPTS)  # a bare string is the prompt's text
    pca: FileName | None = None  # a PCA safetensors file in the scene's folder
    axes: dict[Name, Axis] = Field({}, max_length=MAX_AXES)
    surface_power: float = Field(2.0, gt=0.0, le=16.0)
    cues: list[Cue] = Field([], max_length=MAX_CUES)
    loop: bool = False
    length: float | None = Field(None, gt=0.0)  # seconds per loop; default: the last cue's time plus its fade
    mappings: list[Mapping] = Field([], max_length=MAX_MAPPINGS)
    web: WebLayout | None = None  # the web page's layout for this scene
    timezone: str | None = Field(None, max_length=64)  # IANA name for the clock cues and hours; default: the machine's
    hours: Hours | None = None  # opening hours on the wall clock

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None:
            zone(name)  # ValueError: unknown zone
        return name

    @property
    def on_the_clock(self) -> bool:
        """Whether its cues are times of day (the scene then plays where the wall clock says)."""
        return any(is_clock_time(cue.at) for cue in self.cues)

    @field_validator("prompts", "axes", "cues", "mappings", mode="before")
    @classmethod
    def _count(cls, items: object, info: ValidationInfo) -> object:
        # Counted before the items are validated: the message says what the limit is for
        # (the Field limits above say it too, in the JSON schema, but in pydantic's words).
        limit = {"prompts": MAX_PROMPTS, "axes": MAX_AXES, "cues": MAX_CUES, "mappings": MAX_MAPPINGS}[str(info.field_name)]
        if isinstance(items, (dict, list)) and len(items) > limit:
            why = " (as many as OSC allows at once)" if info.field_name == "prompts" else ""
            raise ValueError(f"at most {limit} {info.field_name}{why}, not {len(items)}")
        return items

    @field_validator("defaults")
    @classmethod
    def _defaults(cls, values: dict[str, float | int | bool]) -> dict[str, float | int | bool]:
        return Cue._params(values)

    @field_validator("prompts", mode="before")
    @classmethod
    def _text_shorthand(cls, prompts: object) -> object:
        if isinstance(prompts, dict):
            return {k: {"text": v} if isinstance(v, str) else v for k, v in prompts.items()}
        return prompts

    def check_references(self) -> list[tuple[tuple, str]]:
        """Problems across fields, as (location, message)."""
        problems: list[tuple[tuple, str]] = []
        prompts = set(self.prompts)
        cue_names = [c.name for c in self.cues if c.name]
        for i, cue in enumerate(self.cues):  # at the second (and any later) use, where the fix goes
            first = next(j for j, c in enumerate(self.cues) if c.name == cue.name)
            if cue.name and first < i:
                problems.append((("cues", i, "name"), f"cue name {cue.name!r} is used twice (first by cues[{first}])"))
        for i, cue in enumerate(self.cues):
            for name in cue.mix or {}:
                if name not in prompts:
                    problems.append((("cues", i, "mix", name), f"no prompt named {name!r}{suggest(name, prompts)}"))
            if cue.days is not None and not is_clock_time(cue.at):
                problems.append((("cues", i, "days"), 'days go with a time of day: at: "HH:MM"'))
            uses_beats = (isinstance(cue.at, str) and not is_clock_time(cue.at)) or cue.fade.beats is not None or cue.fade.bars is not None
            if uses_beats and self.tempo is None:
                problems.append((("cues", i), "bars and beats need a tempo: add tempo: BPM to the scene"))
        clocked = [i for i, cue in enumerate(self.cues) if is_clock_time(cue.at)]
        if clocked:
            # One timeline per scene: a time of day and "30 s after the start" cannot both say
            # where a restarted scene stands, so a scene is on the clock or on its own timeline.
            for i, cue in enumerate(self.cues):
                if cue.at is not None and not is_clock_time(cue.at):
                    problems.append((("cues", i, "at"), "this scene's cues are on the clock (times of day); "
                                     'give this one a time of day too, such as "05:30", or none (a manual cue)'))
            for key in ("loop", "length"):
                if key in self.model_fields_set:
                    problems.append(((key,), f"{key} is for cues in seconds or bars; cues on the clock repeat every day"))
        return problems + self._more_references(prompts, cue_names)

    def _more_references(self, prompts: set[str], cue_names: list[str]) -> list[tuple[tuple, str]]:
        problems: list[tuple[tuple, str]] = []
        for name, axis in self.axes.items():
            for end in (axis.from_, axis.to):
                if end not in prompts:
                    problems.append((("axes", name), f"no prompt named {end!r}{suggest(end, prompts)}"))
        for i, mapping in enumerate(self.mappings):
            if mapping.weight is not None and mapping.weight not in prompts:
                problems.append((("mappings", i, "weight"), f"no prompt named {mapping.weight!r}{suggest(mapping.weight, prompts)}"))
            if mapping.axis is not None and mapping.axis not in self.axes and not mapping.axis.isdigit():
                problems.append((("mappings", i, "axis"), f"no axis named {mapping.axis!r}{suggest(mapping.axis, self.axes)}"))
            if mapping.cue is not None and mapping.cue not in ("go", "next", "previous") and mapping.cue not in cue_names:
                problems.append((("mappings", i, "cue"), f"no cue named {mapping.cue!r}{suggest(mapping.cue, cue_names)}"))
        return problems


def suggest(word: str, choices) -> str:
    """A ' (did you mean ...?)' tail, or nothing."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
