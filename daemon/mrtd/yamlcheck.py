"""YAML files checked against pydantic models (scenes, the daemon's config).

Every error is reported at once, each as `file:line: field: message`. Lines
come from the YAML node marks (so they point at what the person typed), and a
misspelt key gets a "did you mean" from the keys allowed at that spot.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError


Path_ = tuple[Any, ...]


class YamlError(ValueError):
    """A file that cannot be used. `errors` holds every problem, one line each."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s)\n" + "\n".join(errors))


M = TypeVar("M")  # a pydantic model or a dataclass
CrossCheck = Callable[[Any], list[tuple[tuple, str]]]


def load_yaml(path: str | Path, model: type[M], cross_check: CrossCheck | None = None, error: type[YamlError] = YamlError) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), [f"{path}: cannot read: {exc}"]) from None
    return parse_yaml(text, str(path), model, cross_check, error)


def parse_yaml(text: str, filename: str, model: type[M], cross_check: CrossCheck | None = None,
               error: type[YamlError] = YamlError) -> M:
    """Validate YAML `text` against `model`; `cross_check(instance)` adds (location, message) problems."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise error(filename, [f"{filename}:{line}: {getattr(exc, 'problem', None) or exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(filename, [f"{filename}:1: expected a mapping of keys"])
    lines = _line_index(root)
    errors: list[tuple[int, str]] = []
    try:
        instance = TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        seen: set[Path_] = set()
        for problem in exc.errors():
            where = _data_path(data, problem["loc"])
            if where in seen:  # one message per spot (unions report once per member)
                continue
            seen.add(where)
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
                key = where[-1]
                message = f"unknown key {key!r}" + _did_you_mean(str(key), _allowed_keys(model, where[:-1]))
            errors.append((_line_of(lines, where), f"{_dotted(where)}: {message}"))
    else:
        for where, message in (cross_check(instance) if cross_check else []):
            errors.append((_line_of(lines, where), f"{_dotted(where)}: {message}"))
        if not errors:
            return instance
    errors.sort(key=lambda e: e[0])
    raise error(filename, [f"{filename}:{line}: {message}" for line, message in errors])


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


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(choices)})" if choices else ""
