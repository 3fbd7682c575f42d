"""What the daemon answers: one typed response per reply address, for both sides.

The daemon builds a response and sends `message()`; a client decodes what came
back with `decode` (or the class's `from_args`) and gets the same object: one
definition of each reply, as supriya's responses are. The web page's JSON
replies carry the same address and arguments.

`from_args` raises ValueError on arguments that do not fit, so a client never
mistakes a malformed or foreign packet for an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from mrtd.vocabulary.codec import ROOT, Message


@dataclass(frozen=True)
class Response:
    address: ClassVar[str]

    def args(self) -> list[Any]:
        return []

    def message(self) -> Message:
        return (self.address, self.args())

    @classmethod
    def from_args(cls, args: list[Any]) -> "Response":
        if args:
            raise ValueError(f"{cls.address} takes no arguments, got {len(args)}")
        return cls()


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} should be text, got {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{what} should be a whole number, got {value!r}")
    return int(value)


def _count(args: list[Any], address: str, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        raise ValueError(f"{address} has {low}{'' if high == low else f'-{high}'} arguments, got {len(args)}")


@dataclass(frozen=True)
class Error(Response):
    """A request was refused and changed nothing: `about` is its address."""

    address: ClassVar[str] = f"{ROOT}/error"
    about: str
    reason: str

    def args(self) -> list[Any]:
        return [self.about, self.reason]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Error":
        _count(args, cls.address, 1, 2)
        return cls(str(args[0]), str(args[1]) if len(args) > 1 else "")


@dataclass(frozen=True)
class Pong(Response):
    """The answer to /mrt/ping: its arguments, echoed (a token, a fence)."""

    address: ClassVar[str] = f"{ROOT}/pong"
    echoed: tuple[Any, ...] = ()

    def args(self) -> list[Any]:
        return list(self.echoed)

    @classmethod
    def from_args(cls, args: list[Any]) -> "Pong":
        return cls(tuple(args))


@dataclass(frozen=True)
class Status(Response):
    """`key value key value ...`: numbers or text; an empty value is sent as "-" (Pd's oscparse
    drops an empty string and the pairs would shift), a dict as `k:v k:v`."""

    address: ClassVar[str] = f"{ROOT}/status"
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, status: dict[str, Any]) -> "Status":
        """The daemon's status dict, shaped for the wire."""
        shaped: dict[str, Any] = {}
        for key, value in status.items():
            if isinstance(value, dict):
                value = " ".join(f"{k}:{v:.3g}" if isinstance(v, float) else f"{k}:{v}" for k, v in value.items())
            if value is None or value == "":
                value = "-"
            elif isinstance(value, float):
                value = round(value, 3)
            shaped[key] = value
        return cls(shaped)

    def args(self) -> list[Any]:
        return [x for pair in self.values.items() for x in pair]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Status":
        if len(args) % 2:
            raise ValueError(f"{cls.address} comes in key-value pairs, got {len(args)} arguments")
        return cls({str(k): v for k, v in zip(args[::2], args[1::2])})


@dataclass(frozen=True)
class Hello(Response):
    """The cookie to echo in `/mrt/hello <cookie>`, which proves the address is the sender's."""

    address: ClassVar[str] = f"{ROOT}/hello"
    cookie: int

    def args(self) -> list[Any]:
        return [self.cookie]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Hello":
        _count(args, cls.address, 1)
        return cls(_int(args[0], "the cookie"))


@dataclass(frozen=True)
class HelloOk(Response):
    """The address is proven: replies are bounded only by its rate from now on."""

    address: ClassVar[str] = f"{ROOT}/hello/ok"


@dataclass(frozen=True)
class Synced(Response):
    """Ends a /mrt/sync: how many state messages came before it."""

    address: ClassVar[str] = f"{ROOT}/synced"
    count: int

    def args(self) -> list[Any]:
        return [self.count]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Synced":
        _count(args, cls.address, 1)
        return cls(_int(args[0], "the count"))


@dataclass(frozen=True)
class Subscribed(Response):
    """State pushes go to this port on the sender's host until the lease lapses (renew it)."""

    address: ClassVar[str] = f"{ROOT}/subscribed"
    port: int

    def args(self) -> list[Any]:
        return [self.port]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Subscribed":
        _count(args, cls.address, 1)
        return cls(_int(args[0], "the port"))


@dataclass(frozen=True)
class Unsubscribed(Subscribed):
    """No more pushes to this port."""

    address: ClassVar[str] = f"{ROOT}/unsubscribed"


@dataclass(frozen=True)
class Learning(Response):
    """MIDI learn is waiting for a control, to map it to `name` as `kind`."""

    address: ClassVar[str] = f"{ROOT}/learning"
    kind: str
    name: str

    def args(self) -> list[Any]:
        return [self.kind, self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Learning":
        _count(args, cls.address, 2)
        return cls(_text(args[0], "the kind"), _text(args[1], "the name"))


@dataclass(frozen=True)
class Named(Response):
    """A message that names one thing (a model, an audio file, a recording's path; the scene or cue playing)."""

    name: str

    def args(self) -> list[Any]:
        return [self.name]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Named":
        _count(args, cls.address, 1)
        return cls(_text(args[0], "the name"))


@dataclass(frozen=True)
class Prefilling(Named):
    """A prefill started: from this audio file, or "silence"."""

    address: ClassVar[str] = f"{ROOT}/prefilling"


@dataclass(frozen=True)
class TokensSaving(Named):
    """Tokens out: this file (in the audio folder) is being written."""

    address: ClassVar[str] = f"{ROOT}/tokens/saving"


@dataclass(frozen=True)
class Loading(Named):
    """This model is loading; it crossfades in when ready."""

    address: ClassVar[str] = f"{ROOT}/loading"


@dataclass(frozen=True)
class RecordStarted(Named):
    """Recording to this path."""

    address: ClassVar[str] = f"{ROOT}/record/started"


@dataclass(frozen=True)
class RecordStopped(Named):
    """The recording at this path is complete ("" when none was running)."""

    address: ClassVar[str] = f"{ROOT}/record/stopped"


@dataclass(frozen=True)
class Clamped(Response):
    """A value was applied, but not as sent: `applied` is what a limit let through."""

    address: ClassVar[str] = f"{ROOT}/clamped"
    name: str
    applied: float
    why: str

    def args(self) -> list[Any]:
        return [self.name, self.applied, self.why]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Clamped":
        _count(args, cls.address, 3)
        return cls(_text(args[0], "the name"), float(args[1]), _text(args[2], "the reason"))


@dataclass(frozen=True)
class PromptsPart(Response):
    """One datagram-sized part of a long prompt list: part `index` of `total`, name-text pairs
    (a /mrt/sync reply or a state push, wherever /mrt/prompts would not fit one datagram)."""

    address: ClassVar[str] = f"{ROOT}/prompts/part"
    index: int
    total: int
    pairs: tuple[tuple[str, str], ...]

    def args(self) -> list[Any]:
        return [self.index, self.total, *(x for pair in self.pairs for x in pair)]

    @classmethod
    def from_args(cls, args: list[Any]) -> "PromptsPart":
        if len(args) < 2 or len(args) % 2:
            raise ValueError(f"{cls.address} is index, total, then name-text pairs")
        rest = [str(a) for a in args[2:]]
        return cls(_int(args[0], "the index"), _int(args[1], "the total"), tuple(zip(rest[::2], rest[1::2])))


@dataclass(frozen=True)
class Done(Response):
    """The web page's acknowledgement of a message that carried an `id` and had no other reply:
    `about` is its address."""

    address: ClassVar[str] = f"{ROOT}/done"
    about: str

    def args(self) -> list[Any]:
        return [self.about]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Done":
        _count(args, cls.address, 1)
        return cls(_text(args[0], "the address"))


@dataclass(frozen=True)
class Learned(Response):
    """MIDI learn mapped a control to `name` as `kind` (pushed to subscribers); `source` describes
    the control, as `key=value` words (`cc=7 channel=1`)."""

    address: ClassVar[str] = f"{ROOT}/learned"
    kind: str
    name: str
    source: str

    def args(self) -> list[Any]:
        return [self.kind, self.name, self.source]

    @classmethod
    def from_args(cls, args: list[Any]) -> "Learned":
        _count(args, cls.address, 3)
        return cls(_text(args[0], "the kind"), _text(args[1], "the name"), _text(args[2], "the source"))


@dataclass(frozen=True)
class PageJson(Response):
    """A reply that carries one JSON text (the web page's own views)."""

    json: str

    def args(self) -> list[Any]:
        return [self.json]

    @classmethod
    def from_args(cls, args: list[Any]) -> "PageJson":
        _count(args, cls.address, 1)
        return cls(_text(args[0], "the JSON"))


@dataclass(frozen=True)
class PageStatus(PageJson):
    """Pushed to the web page every few seconds: the daemon's health as a JSON object."""

    address: ClassVar[str] = f"{ROOT}/web/status"


@dataclass(frozen=True)
class PageScene(PageJson):
    """Pushed to a web page when it connects: the scene's controls (prompts, axes, cues) as JSON."""

    address: ClassVar[str] = f"{ROOT}/web/scene"


PROMPTS_PART_BYTES = 8192  # a /mrt/prompts message larger than this goes out in parts


def in_datagrams(address: str, args: list[Any]) -> list[Message]:
    """`(address, args)` as it is, or, for a `/mrt/prompts` list too long for one UDP datagram
    (64 prompts of 1,000 characters are about 68 kB; a datagram holds 65,507 bytes), its
    `PromptsPart`s, each under PROMPTS_PART_BYTES. One rule for /mrt/sync replies and state
    pushes alike, so a client that reassembles one reassembles the other."""
    if address != f"{ROOT}/prompts":
        return [(address, args)]
    parts: list[list[Any]] = [[]]
    size = total = 0
    for name, text in zip(args[::2], args[1::2]):
        # UTF-8 bytes, not characters (a text of 1,000 non-ASCII characters is up to 4 kB), plus
        # what OSC adds to a pair (two type tags, two terminators, padding): over, never under.
        item = len(str(name).encode()) + len(str(text).encode()) + 16
        if parts[-1] and size + item > PROMPTS_PART_BYTES:
            parts.append([])
            size = 0
        parts[-1] += [name, text]
        size += item
        total += item
    if total <= PROMPTS_PART_BYTES:
        return [(address, args)]
    return [PromptsPart(i + 1, len(parts), tuple(zip(part[::2], part[1::2]))).message() for i, part in enumerate(parts)]


@dataclass(frozen=True)
class BufferSize(Response):
    """What an official `buffersize` is in mrtd: the samples after the official clamp to 1920-8192,
    the `--latency` that holds them (a preset's name, or a margin in ms), that margin in whole ms,
    and when it applies: `now` when the daemon runs at that margin, else `at start: --latency X`
    (mrtd's margin is set when it starts)."""

    address: ClassVar[str] = f"{ROOT}/buffersize"
    samples: int
    latency: str
    margin_ms: int
    applies: str

    def args(self) -> list[Any]:
        return [self.samples, self.latency, self.margin_ms, self.applies]

    @classmethod
    def from_args(cls, args: list[Any]) -> "BufferSize":
        _count(args, cls.address, 4)
        return cls(_int(args[0], "the samples"), _text(args[1], "the latency"), _int(args[2], "the margin"),
                   _text(args[3], "when it applies"))


@dataclass(frozen=True)
class StateBank(Response):
    """A state bank request accepted: `action` save | load | factory, `bank` 1-16 (0 for factory).
    A save is written, and a load crossfades in, a moment later; a failure then is logged."""

    address: ClassVar[str] = f"{ROOT}/state/bank"
    action: str
    bank: int

    def args(self) -> list[Any]:
        return [self.action, self.bank]

    @classmethod
    def from_args(cls, args: list[Any]) -> "StateBank":
        _count(args, cls.address, 2)
        return cls(_text(args[0], "the action"), _int(args[1], "the bank"))


RESPONSES: dict[str, type[Response]] = {
    cls.address: cls
    for cls in (Error, Pong, Status, Hello, HelloOk, Synced, Subscribed, Unsubscribed, Learning, Prefilling,
                Loading, RecordStarted, RecordStopped, Clamped, PromptsPart, Done, Learned,
                PageStatus, PageScene, BufferSize, StateBank)
}


def decode(address: str, args: list[Any]) -> Response | None:
    """The typed response for a reply message; None for an address that is not a reply
    (a state push, which the feedback table describes) or arguments that do not fit."""
    kind = RESPONSES.get(address)
    if kind is None:
        return None
    try:
        return kind.from_args(list(args))
    except (ValueError, TypeError):
        return None


def responses_markdown() -> list[str]:
    """The replies section of docs/osc.md, from the classes above."""
    lines = ["", "## Replies", "",
             "What the daemon answers to the sender, and the pushes that are events rather than state (`/mrt/learned`, the web page's own) "
             "(`mrtd.vocabulary.replies`: the daemon builds these, the Python clients decode them).", "",
             "| address | arguments | meaning |", "|---|---|---|"]
    for address, kind in RESPONSES.items():
        arguments = " ".join(f.name for f in fields(kind))
        doc = " ".join((kind.__doc__ or "").split())
        lines.append(f"| `{address}` | {arguments} | {doc} |")
    return lines
