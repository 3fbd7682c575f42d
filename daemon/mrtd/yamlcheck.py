"""YAML files checked against pydantic models (scenes, the daemon's config).

Every error is reported at once, each as `file:line: field: message`. Lines
come from the YAML node marks (so they point at what the person typed), and a
misspelt key gets a "did you mean" from the keys allowed at that spot.

A file is untrusted (a scene can arrive over OSC from anyone on the network),
so reading and parsing are bounded before anything is built: the file must be
a regular file no bigger than `MAX_BYTES` (opened without blocking, so a FIFO
or a device is refused, never waited on), and one cheap pass over the parser's
events bounds the nesting depth and the number of nodes *after* aliases are
expanded (a 369-byte "billion laughs" expands to 10^9 nodes; it is refused
after `MAX_NODES`). Only then is the file composed, once. Duplicate keys are
errors, not "the last one wins". Messages never quote the file's content
beyond a short key, so a file that should not have been read leaks nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import stat
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

Path_ = tuple[Any, ...]

MAX_BYTES = 4 * 1024 * 1024  # the biggest scene we ship is 3 KB; 100 prompts given as raw embeddings ~1.6 MB
MAX_DEPTH = 32  # the scene schema nests 8 deep; PyYAML's composer recurses per level
MAX_NODES = 400_000  # after alias expansion; ~4 MB of embedding floats is ~250k scalars
MAX_SHOWN = 40  # characters of a key or a parser message shown in an error
# Entries in one list or mapping: the longest the schemas allow is 1000 (cues, mappings, sounds)
# and an embedding's 768 floats. Counted while parsing, so 100,000 cues are refused before any is
# built (they took 4.8 s and 240 MB to be refused by the schema).
MAX_ENTRIES = 2048
MAX_NUMBER_CHARS = 400  # a plain scalar that reads as a number: a float64 has 17 significant digits
# What YAML 1.1 may read as an int or a float: digits with '_', '.', ':' (sexagesimal), an exponent, or 0x/0o/0b.
_NUMBERISH = re.compile(r"[-+]?(?:[0-9_.:]*[0-9][0-9_.:]*(?:[eE][-+]?[0-9]+)?|0[xXoObB][0-9a-fA-F_]+)")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


class YamlError(ValueError):
    """A file that cannot be used. `errors` holds every problem, one line each."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s)\n" + "\n".join(errors))


M = TypeVar("M")  # a pydantic model or a dataclass
CrossCheck = Callable[[Any], list[tuple[tuple, str]]]
RawCheck = Callable[[dict], list[tuple[tuple, str]]]


def shown(value: object) -> str:
    """`value` as an error may quote it: repr'd (control characters escaped) and cut short."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 4] + "...'"


def read_text(path: str | Path, max_bytes: int = MAX_BYTES) -> str:
    """The file's text, or OSError/ValueError with a reason that quotes none of it.

    Opened with O_NONBLOCK and checked with fstat before reading, so a FIFO
    (which would block until a writer comes) or a device (/dev/zero never
    ends) is refused at once; at most max_bytes + 1 bytes are ever read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{info.st_size} bytes is over the limit of {max_bytes}")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew while we read
        raise ValueError(f"over the limit of {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def load_yaml(path: str | Path, model: type[M], cross_check: CrossCheck | None = None, error: type[YamlError] = YamlError,
              raw_check: RawCheck | None = None, display: str | None = None) -> M:
    """Read and validate the file at `path`; errors name it `display` (default: `path`)."""
    path = Path(path)
    name = display or str(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise error(name, [f"{name}: no such file"]) from None
    except OSError as exc:
        raise error(name, [f"{name}: cannot read: {exc.strerror or type(exc).__name__}"]) from None
    except ValueError as exc:
        raise error(name, [f"{name}: cannot read: {exc}"]) from None
    return parse_yaml(text, name, model, cross_check, error, raw_check)


class _Bounds(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _check_bounds(text: str) -> None:
    """One pass over the parser's events: nesting depth, entries per list or mapping, node count
    with every alias expanded, no alias inside what it names, no number too long to convert."""
    sizes: list[int] = []  # the open collections' node counts so far
    entries: list[int] = []  # the open collections' direct children (a mapping's: keys and values)
    limits: list[int] = []
    anchors_open: list[str | None] = []
    anchors: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)) and entries:
            entries[-1] += 1
            if entries[-1] > limits[-1]:
                raise _Bounds(event.start_mark.line + 1, f"more than {MAX_ENTRIES} entries in one list or mapping")
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            if isinstance(event, yaml.AliasEvent) and event.anchor in anchors_open:
                # Composed, `&x [*x]` is a list inside itself: every walk over it recurses for ever.
                raise _Bounds(event.start_mark.line + 1, f"the alias *{shown(event.anchor)[1:-1]} is inside what it names")
            if isinstance(event, yaml.ScalarEvent) and not event.style and len(event.value) > MAX_NUMBER_CHARS and _NUMBERISH.fullmatch(event.value):
                # int() refuses over 4300 digits with a ValueError the YAML loader does not expect
                raise _Bounds(event.start_mark.line + 1, f"a number of {len(event.value)} characters (at most {MAX_NUMBER_CHARS})")
            size = 1 if isinstance(event, yaml.ScalarEvent) else anchors.get(event.anchor or "", 1)
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = 1
            total += size
            if sizes:
                sizes[-1] += size
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(sizes) >= MAX_DEPTH:
                raise _Bounds(event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            sizes.append(1)
            entries.append(0)
            limits.append(MAX_ENTRIES * (2 if isinstance(event, yaml.MappingStartEvent) else 1))
            anchors_open.append(event.anchor)
            total += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            entries.pop()
            limits.pop()
            size, anchor = sizes.pop(), anchors_open.pop()
            if anchor:
                anchors[anchor] = size
            if sizes:
                sizes[-1] += size
        else:
            continue
        if total > MAX_NODES:
            raise _Bounds(event.start_mark.line + 1, f"more than {MAX_NODES} values (aliases expanded)")


def _duplicate_keys(node: yaml.Node | None, found: list[tuple[int, str]], seen: set[int]) -> None:
    """Every mapping key given twice, as (line, message). Aliased nodes are visited once."""
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in keys:
                    found.append((key.start_mark.line + 1, f"key {shown(key.value)} given twice (first on line {keys[key.value]})"))
                else:
                    keys[key.value] = key.start_mark.line + 1
            _duplicate_keys(value, found, seen)
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            _duplicate_keys(value, found, seen)


def parse_yaml(text: str, filename: str, model: type[M], cross_check: CrossCheck | None = None,
               error: type[YamlError] = YamlError, raw_check: RawCheck | None = None) -> M:
    """Validate YAML `text` against `model`; `cross_check(instance)` adds (location, message) problems.

    `raw_check(data)` runs on the plain data even when the model refuses it, so
    its problems come in the same report rather than after the first are fixed."""
    if len(text) > MAX_BYTES:
        raise error(filename, [f"{filename}:1: {len(text)} characters is over the limit of {MAX_BYTES}"])
    try:
        _check_bounds(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except _Bounds as exc:
        raise error(filename, [f"{filename}:{exc.line}: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise error(filename, [f"{filename}:{_syntax_error(exc, text)}"]) from None
    except RecursionError:  # bounded above; kept so no thread can ever die of it
        raise error(filename, [f"{filename}:1: nested too deep"]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor's own refusal: bounded above too
        raise error(filename, [f"{filename}:1: cannot be read: {type(exc).__name__}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(filename, [f"{filename}:1: expected a mapping of keys"])
    errors: list[tuple[int, str]] = []
    _duplicate_keys(root, errors, set())
    lines = _line_index(root)
    for where, message in (raw_check(data) if raw_check else []):
        errors.append((_line_of(lines, where), f"{_dotted(where)}: {message}"))
    try:
        instance = TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        seen: set[Path_] = set()
        for detail in exc.errors():
            where = _data_path(data, detail["loc"])
            if where in seen:  # one message per spot (unions report once per member)
                continue
            seen.add(where)
            message = detail["msg"].removeprefix("Value error, ")
            given = detail.get("input")
            if detail["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
                key = where[-1]
                message = f"unknown key {shown(key)}" + _key_hint(str(key), model, where[:-1])
            elif isinstance(given, float) and not math.isfinite(given):
                # pydantic compares .nan with a bound and calls it too big; say what it is
                message = "is .nan, not a number" if math.isnan(given) else f"is {'-' if given < 0 else ''}.inf, not a finite number"
            errors.append((_line_of(lines, where), f"{_dotted(where)}: {message}"))
    else:
        for where, message in (cross_check(instance) if cross_check else []):
            errors.append((_line_of(lines, where), f"{_dotted(where)}: {message}"))
        if not errors:
            return instance
    errors.sort(key=lambda e: e[0])
    unique = list(dict.fromkeys(f"{filename}:{line}: {message}" for line, message in errors))
    raise error(filename, unique)


# Parser problems that, in a file people type, almost always mean a line indented wrong
# (or a quote left open above it, which swallows the lines that follow).
_INDENT_PROBLEMS = ("expected <block end>", "did not find expected key", "mapping values are not allowed",
                    "did not find expected '-' indicator", "could not find expected ':'")


def _syntax_error(exc: yaml.YAMLError, text: str) -> str:
    """`line: problem, context (where it started)[; hint]` from PyYAML's (or libyaml's) own words.

    The line is the problem's, unless that is past the file's end (an unclosed quote or
    bracket runs to the end of the stream): then the line where the unclosed thing began."""
    last_line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    line = problem_mark.line + 1 if problem_mark is not None else 1
    if line > last_line:
        line = context_mark.line + 1 if context_mark is not None else last_line
    words = [_short(str(getattr(exc, "problem", None) or "not valid YAML"))]
    context = getattr(exc, "context", None)
    if context:
        started = f" that starts on line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark is not None else ""
        words.append(f"{_short(str(context))}{started}")
    message = f"{line}: " + ", ".join(words)
    if any(words[0].startswith(p) for p in _INDENT_PROBLEMS):
        message += f"; check the indentation of line {line} (or a quote left open above it)"
    return message


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN * 2 else text[: MAX_SHOWN * 2] + "..."


def _line_index(node: yaml.Node | None, path: Path_ = ()) -> dict[Path_, int]:
    lines: dict[Path_, int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = path + (key.value,)
            lines.update(_line_index(value, child))
            lines[child + ("<key>",)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines.update(_line_index(value, path + (i,)))
    return lines


def _line_of(lines: dict[Path_, int], where: Path_) -> int:
    if where + ("<key>",) in lines:
        return lines[where + ("<key>",)]
    while where and where not in lines:
        where = where[:-1]
    return lines.get(where, 1)


def _data_path(data: Any, loc: tuple) -> Path_:
    """Pydantic's loc without its union-member and validator tags: a path into the data."""
    path: list[Any] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part not in current and part.isidentifier() and not path_is_tag(part):
            path.append(part)  # a missing required field
            break
        else:
            continue
        path.append(part)
    return tuple(path)


def path_is_tag(part: str) -> bool:
    return part[:1].isupper() or part in ("str", "float", "int", "bool", "list", "dict", "tuple") or "[" in part


def _dotted(where: Path_) -> str:
    out = ""
    for part in where:
        part = part if isinstance(part, int) or len(str(part)) <= MAX_SHOWN else str(part)[:MAX_SHOWN] + "..."
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(scene)"


def _allowed_keys(root: Any, where: Path_) -> list[str]:
    """The keys a model accepts at `where`, found by walking the schema's annotations."""
    annotation: Any = root
    for part in where:
        model = _model_in(annotation)
        if model is not None:
            annotation = _field_types(model).get(part)
        else:
            annotation = _item_type(annotation, part)
        if annotation is None:
            return []
    model = _model_in(annotation)
    return list(_field_types(model)) if model else []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation))


def _field_types(model: Any) -> dict[str, Any]:
    """Key -> annotation, for a pydantic model or a dataclass."""
    if issubclass(model, BaseModel):
        return {f.alias or name: f.annotation for name, f in model.model_fields.items()}
    hints = typing.get_type_hints(model)
    return {f.name: hints.get(f.name) for f in dataclasses.fields(model)}


def _model_in(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # Optional[Model]
        return next((a for a in typing.get_args(annotation) if _is_model(a)), None)
    return None


def _item_type(annotation: Any, part: Any) -> Any:
    for candidate in (annotation, *typing.get_args(annotation)):
        origin = typing.get_origin(candidate)
        args = typing.get_args(candidate)
        if origin is dict and args:
            return args[1]
        if origin is list and args:
            return args[0]
        if origin in (typing.Union, types.UnionType):
            continue
    return None


def _key_hint(word: str, root: Any, where: Path_) -> str:
    """The tail of an "unknown key" message: where a key of another part belongs, else a did-you-mean
    from the keys allowed here only (`to:` in a mapping is an axis's key, not a misspelt `toggle`)."""
    allowed = _allowed_keys(root, where)
    homes = _homes_of(word, root)
    if homes:
        listed = f"; keys here: {', '.join(allowed)}" if allowed else ""
        return f" ({shown(word)} is a key of {' and '.join(homes[:2])}, not here{listed})"
    return _did_you_mean(word, allowed)


def _homes_of(key: str, root: Any) -> list[str]:
    """Where in the schema `key` is a valid key, as dotted paths ("axes.NAME", "cues[]")."""
    homes: list[str] = []
    seen: set[int] = set()

    def walk(annotation: Any, path: str) -> None:
        model = _model_in(annotation)
        if model is not None:
            if id(model) in seen:
                return
            seen.add(id(model))
            for name, inner in _field_types(model).items():
                if name == key and path:
                    homes.append(path)
                walk(inner, f"{path}.{name}" if path else name)
            return
        for candidate in (annotation, *typing.get_args(annotation)):
            origin, args = typing.get_origin(candidate), typing.get_args(candidate)
            if origin is dict and args:
                walk(args[1], f"{path}.NAME")
            elif origin is list and args:
                walk(args[0], f"{path}[]")

    walk(root, "")
    return homes


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(choices)})" if choices else ""
