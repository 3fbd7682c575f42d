"""A message's wire form, derived from its declared fields.

A class that derives from `Declared` is a frozen dataclass whose fields say how
each travels: `arg(check, shown)` is one argument, decoded by `check` (which
raises ValueError with the reason the sender hears) and shown as `shown` in the
signature docs/osc.md prints; a field with a default is optional and, like the
ones after it, may be left off the end; `rest(check, shown)` takes every
argument after the others, as one list. From these the class gets, once, when
it is created:

- `args()`: the fields in order (an optional field that is None ends the list),
- `from_args(args)`: the argument count checked against the fields (naming the
  signature when it is wrong), then each argument by its field's check; written
  out and compiled for the class, so it costs what a hand-written one did,
- `signature`: the text the reference page shows ('pitch [velocity]').

A class whose wire form is not one argument per field (a mix's pairs and its
trailing fade, a leading optional word) writes `from_args`, `args` and its
`signature` itself, and says why.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, ClassVar, TypeVar, dataclass_transform, overload

from mrtd.vocabulary.values import arity

Check = Callable[[Any], Any]  # an argument (or, for `rest`, the list of them) -> the field's value
T = TypeVar("T")
D = TypeVar("D")
M = TypeVar("M", bound="Declared")
SPEC = "wire"  # the key of a field's metadata that holds its Arg
MANY = 1_000_000  # the most arguments a `rest` field admits here: the packet's size bounds them first


@dataclass(frozen=True)
class Arg:
    """How one field travels: its check, its text in the signature, its wire form."""

    check: Check | None
    shown: str = ""
    encode: Callable[[Any], Any] | None = None  # the field's value -> its argument (`rest`: its list)
    tail: bool = False  # takes every argument after the other fields, as one list
    # The (check, shown) of a field whose check depends on the class (a parameter's range, named
    # by a ClassVar of each subclass), resolved for each class as it is created; None for a class
    # that leaves it to its subclasses.
    by_class: Callable[[Any], tuple[Check, str] | None] | None = None

    def resolve(self, kind: type) -> tuple[Check | None, str]:
        """The (check, shown) of this field in class `kind`; check None: its subclasses say."""
        return (self.by_class(kind) or (None, "")) if self.by_class is not None else (self.check, self.shown)


@overload
def arg(check: Callable[[Any], T], shown: str, *, encode: Callable[[T], Any] | None = None) -> T: ...
@overload
def arg(check: Callable[[Any], T], shown: str, *, default: D, encode: Callable[[T], Any] | None = None) -> T | D: ...
@overload
def arg(*, by_class: Callable[[Any], tuple[Check, str] | None]) -> Any: ...
def arg(check: Check | None = None, shown: str = "", *, default: Any = MISSING, encode: Callable[[Any], Any] | None = None,
        by_class: Callable[[Any], tuple[Check, str] | None] | None = None) -> Any:
    """One argument, decoded by `check`; with a `default`, optional (it and what follows may be left off)."""
    return field(default=default, metadata={SPEC: Arg(check, shown, encode, by_class=by_class)})


@overload
def rest(check: Callable[[list[Any]], T], shown: str, *, encode: Callable[[T], list[Any]] | None = None) -> T: ...
@overload
def rest(check: Callable[[list[Any]], T], shown: str, *, default: D,
         encode: Callable[[T], list[Any]] | None = None) -> T | D: ...
def rest(check: Callable[[list[Any]], Any], shown: str, *, default: Any = MISSING,
         encode: Callable[[Any], list[Any]] | None = None) -> Any:
    """Every argument after the other fields, decoded together by `check`; with a `default`, none
    left means the default (without one, at least one must be left)."""
    return field(default=default, metadata={SPEC: Arg(check, shown, encode, tail=True)})


@dataclass(frozen=True)
class Codec:
    """A class's decoder and encoder, compiled from its fields once, when the class is created."""

    names: tuple[str, ...]  # the one-argument fields, in wire order
    checks: tuple[Check, ...]
    encoders: tuple[Callable[[Any], Any] | None, ...]
    required: int  # how many of them come first and must be sent
    tail: tuple[str, Check, Callable[[Any], list[Any]] | None] | None  # a rest() field: name, check, encode
    low: int  # fewest arguments
    high: int  # most arguments (the declared ones, and any the class ignores)
    signature: str

    @classmethod
    def of(cls, kind: type) -> "Codec | None":
        """The codec of `kind`'s fields; None where a field is not declared with `arg` or `rest`."""
        names: list[str] = []
        checks: list[Check] = []
        encoders: list[Callable[[Any], Any] | None] = []
        shown: list[str] = []
        required = 0
        tail = None
        tail_shown, tail_required = "", False
        for f in (f for f in fields(kind) if f.init):
            spec: Arg | None = f.metadata.get(SPEC)
            if spec is None:
                return None  # a field its class decodes itself
            check, text = spec.resolve(kind)
            if check is None:
                return None  # a field its subclasses resolve
            optional = f.default is not MISSING or f.default_factory is not MISSING
            if tail is not None:  # (that required fields come before optional ones, dataclass says)
                raise TypeError(f"{kind.__name__}.{f.name}: a rest() field is the last field")
            if spec.tail:
                tail, tail_shown, tail_required = (f.name, check, spec.encode), text, not optional
                continue
            required += not optional
            names.append(f.name)
            checks.append(check)
            encoders.append(spec.encode)
            shown.append(text)
        high = MANY if tail is not None else len(names) + kind.ignored  # type: ignore[attr-defined]
        return cls(tuple(names), tuple(checks), tuple(encoders), required, tail, required + tail_required, high,
                   _signature(shown[:required], shown[required:], tail_shown))

    def decoder(self) -> Callable[[Any, list[Any]], Any]:
        """`decode(kind, args)`, written out for this class's fields and compiled, as dataclasses
        writes `__init__`: a check per argument and one constructor call per count, with no loop,
        so a derived decoder costs what a hand-written one did (benchmarks/bench_requests.py)."""
        count = len(self.checks)
        given = [f"c{index}(args[{index}])" for index in range(count)]
        lines = ["def decode(kind, args):", "    count = len(args)",
                 f"    if not {self.low} <= count <= {self.high}:",
                 f"        arity(args, {self.low}, {self.high}, kind.signature)  # refuses, naming the signature"]
        for sent in range(self.required, count):  # optional fields left off take their defaults
            lines.append(f"    if count == {sent}: return kind({', '.join(given[:sent])})")
        if self.tail is not None:
            if self.low <= count:  # the tail has a default: none left, none passed
                lines.append(f"    if count == {count}: return kind({', '.join(given)})")
            given.append(f"tail(args[{count}:])" if count else "tail(args)")  # (a slice would copy them all)
        lines.append(f"    return kind({', '.join(given)})")
        namespace: dict[str, Any] = {f"c{index}": check for index, check in enumerate(self.checks)}
        namespace.update(arity=arity, tail=self.tail[1] if self.tail is not None else None)
        exec("\n".join(lines), namespace)
        decode: Callable[[Any, list[Any]], Any] = namespace["decode"]
        return decode

    def encode(self, message: "Declared") -> list[Any]:
        out: list[Any] = []
        for index, (name, encode) in enumerate(zip(self.names, self.encoders)):
            value = getattr(message, name)
            if value is None and index >= self.required:
                return out  # an optional argument left off: so are the ones after it
            out.append(value if encode is None else encode(value))
        if self.tail is not None:
            name, _check, encode = self.tail
            value = getattr(message, name)
            if value is not None:
                out.extend(list(value) if encode is None else encode(value))
        return out


def _signature(required: list[str], optional: list[str], tail: str) -> str:
    """'name text [weight]', 'bpm [meter [more]]': an optional argument in brackets, the ones after it inside."""
    nested = ""
    for text in reversed(optional):
        nested = f"[{text}{' ' + nested if nested else ''}]"
    return " ".join(part for part in (*required, nested, tail) if part)


@dataclass_transform(frozen_default=True, field_specifiers=(arg, rest, field))
class Declared:
    """The base of a message class: each subclass becomes a frozen dataclass with `args`,
    `from_args` and `signature` derived from its fields (see the module's docstring). Subclasses
    take no @dataclass decorator: this base applies it as the class is created."""

    signature: ClassVar[str] = ""  # the arguments as the reference page shows them; derived unless declared
    ignored: ClassVar[int] = 0  # trailing arguments accepted and dropped (a host's release velocity)
    _codec: ClassVar[Codec | None] = None
    _decode: ClassVar[Callable[[Any, list[Any]], Any] | None] = None  # the codec's decoder, compiled

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)
        codec = cls._codec = Codec.of(cls)
        cls._decode = None if codec is None else codec.decoder()
        if _undeclared(cls):  # its wire form is its own: it says so in full
            missing = [name for name in ("from_args", "args", "signature") if name not in _declared(cls)]
            if missing:
                raise TypeError(f"{cls.__name__}: a field without arg() or rest() needs its own {', '.join(missing)}")
        elif codec is not None and "signature" not in cls.__dict__:
            cls.signature = codec.signature

    def args(self) -> list[Any]:
        assert self._codec is not None
        return self._codec.encode(self)

    @classmethod
    def from_args(cls: type[M], args: list[Any]) -> M:
        decode = cls._decode
        assert decode is not None, f"{cls.__name__} leaves its fields to its subclasses"
        return decode(cls, args)


def _undeclared(kind: type) -> bool:
    """Whether a field of `kind` is declared without `arg` or `rest`."""
    return any(SPEC not in f.metadata for f in fields(kind) if f.init)


def _declared(kind: type) -> set[str]:
    """The names `kind` or a class between it and `Declared` defines itself."""
    found: set[str] = set()
    for klass in kind.__mro__:
        if klass is Declared:
            break
        found.update(klass.__dict__)
    return found
