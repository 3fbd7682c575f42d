"""The checks every value from outside passes, whichever input it came through.

A request's `from_args` (vocabulary/requests.py), a command's `checked`
(control/commands.py) and a scene file's schema call these, so one value is
refused with one message wherever it was sent from. The grammars of grid
positions ('bar', '2 bars') and lengths ('4 beats') live here for the same
reason: decoding a request needs them, and so does the musical clock.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mrtd.conditioning import STYLE_TOKENS
from mrtd.vocabulary.params import PARAMS, finite_number, type_name

CURVES = ("linear", "equal-power", "exponential", "s-curve")
MAX_TEXT = 1000  # characters in a prompt text, a scene name, any text argument (MusicCoCa reads 128 tokens of a prompt)
MAX_PROMPT_NAME = 64  # characters in a prompt's name: every reply that lists the prompts quotes them


def arity(args: list[Any], low: int, high: int | None = None) -> None:
    """Refuse an argument list shorter than `low` or longer than `high` (default: exactly `low`)."""
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = f"{low}" if low == high else f"{low}-{high}" if high < 1_000 else f"at least {low}"
        raise ValueError(f"wants {want} argument(s), got {len(args)}")


def number(value: Any, what: str) -> float:
    return finite_number(value, what)


def text(value: Any, what: str) -> str:
    """1-1000 characters of text, not all blank."""
    if not isinstance(value, str):
        raise ValueError(f"{what} wants text, got {type_name(value)}")
    if not value.strip() or len(value) > MAX_TEXT:
        raise ValueError(f"{what} wants 1-{MAX_TEXT} characters of text")
    return value


def switch(args: list[Any]) -> bool:
    """Switches: no argument means on; otherwise 0 or 1."""
    arity(args, 0, 1)
    return True if not args else bool(PARAMS["mute"].coerce(number(args[0], "switch")))


def prompt_name(name: object) -> str:
    """A prompt's name: text, or a slot number (the official panels' 1-6), which names it too."""
    if isinstance(name, bool):
        raise ValueError(f"a prompt name is text or a slot number, got {name!r}")
    if isinstance(name, (int, float)) and math.isfinite(name) and name == int(name):
        return str(int(name))  # official slots 1-6 are names too
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_PROMPT_NAME:
        raise ValueError(f"a prompt name is 1-{MAX_PROMPT_NAME} characters of text or a slot number, got {name!r}")
    return name.strip()


def weight(value: object) -> float:
    value = finite_number(value, "weight")
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"a weight lies in [0, 100], got {value}")
    return float(value)


def pitch(value: object) -> int:
    """A MIDI pitch (or velocity: the same range), 0-127."""
    value = finite_number(value, "pitch")
    if value != int(value) or not 0 <= value <= 127:
        raise ValueError(f"pitch must be a whole number 0-127, got {value}")
    return int(value)


def style_tokens(values: list[object]) -> tuple[int, ...]:
    if len(values) != STYLE_TOKENS:
        raise ValueError(f"style tokens are {STYLE_TOKENS} integers, got {len(values)}")
    tokens = []
    for v in values:
        if finite_number(v, "a style token") != int(v):  # type: ignore[call-overload]
            raise ValueError(f"style tokens are integers, got {v!r}")
        if not -1 <= v <= 1023:  # type: ignore[operator]
            raise ValueError(f"a style token lies in [-1, 1023], got {int(v)}")  # type: ignore[call-overload]
        tokens.append(int(v))  # type: ignore[call-overload]
    return tuple(tokens)


# -- the grid's grammar: when ('bar', '2 bars') and how long ('4 beats', '2.5') -----------------

UNITS = {"beat": "beat", "beats": "beat", "bar": "bar", "bars": "bar"}
WHEN = re.compile(r"^\s*(?:(next)\s+)?(\d+(?:\.\d+)?)?\s*(beat|beats|bar|bars)\s*$")


def parse_when(text: str) -> tuple[str, int]:
    """'bar' / 'next bar' -> ('bar', 1); '4 bars' -> ('bar', 4); 'beat' -> ('beat', 1)."""
    match = WHEN.match(text.lower())
    if not match or (match.group(2) and float(match.group(2)) != int(float(match.group(2)))):
        raise ValueError(f"when is 'beat', 'bar', 'next bar' or 'N bars'/'N beats', got {text!r}")
    count = int(float(match.group(2))) if match.group(2) else 1
    if not 1 <= count <= 1024:
        raise ValueError(f"count of {match.group(3)} lies in 1-1024, got {count}")
    return UNITS[match.group(3)], count


def when_text(when: tuple[str, int]) -> str:
    """The text `parse_when` reads back as `when`: ('bar', 1) -> 'bar', ('beat', 4) -> '4 beats'."""
    unit, count = when
    return unit if count == 1 else f"{count} {unit}s"


def parse_length(text: str) -> tuple[float, str]:
    """'4 bars' -> (4, 'bar'); '8 beats' -> (8, 'beat'); '2.5' or '2.5 s' -> (2.5, 's')."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds?|beats?|bars?)?\s*$", text.lower())
    if not match:
        raise ValueError(f"a length is seconds, 'N beats' or 'N bars', got {text!r}")
    unit = match.group(2) or "s"
    return float(match.group(1)), "s" if unit.startswith("s") else UNITS[unit]
