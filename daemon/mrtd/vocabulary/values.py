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
import unicodedata
from typing import Any

from mrtd.conditioning import STYLE_TOKENS
from mrtd.vocabulary.params import PARAMS, finite_number, type_name

CURVES = ("linear", "equal-power", "exponential", "s-curve")
MAX_TEXT = 1000  # characters in a prompt text, a scene name, any text argument (MusicCoCa reads 128 tokens of a prompt)
MAX_PROMPT_NAME = 64  # characters in a prompt's name: every reply that lists the prompts quotes them
MAX_FILE_NAME = 255  # characters in a file name sent to be read (/mrt/prefill): what a file system holds
MAX_SLOT = 9999  # a prompt or cue named by number (mrtd counts slots from 1; the official externals' six are 0-5)
# An external beat position (Tidal's cycle x 4, Link's timeline): a million bars of 4/4 is 160
# days at 120 BPM, past any session; beyond it a float beat no longer moves by a frame's step
# (at 1e15 the synth's pulse stalls) and the bar number outgrows the OSC int it is shown as.
MAX_BEAT = 4.0e6 * 32  # the meter's most beats per bar, so the bar number stays under 2**31 too
MAX_CYCLE = MAX_BEAT / 4.0  # Tidal's cycle is a bar of four beats


def arity(args: list[Any], low: int, high: int | None = None, signature: str = "") -> None:
    """Refuse an argument list shorter than `low` or longer than `high` (default: exactly `low`),
    naming the `signature` that would fit ('name-or-slot text [weight]')."""
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = f"{low}" if low == high else f"{low}-{high}" if high < 1_000 else f"at least {low}"
        raise ValueError(f"wants {want} argument(s){f' ({signature})' if signature else ''}, got {len(args)}")


def number(value: Any, what: str) -> float:
    return finite_number(value, what)


def bounded(value: Any, what: str, low: float, high: float) -> float:
    """A finite number within [low, high]: finite is not enough for anything that reaches time,
    a position or an integer encoding (`cycle 1e30` once stalled the clock for good)."""
    value = finite_number(value, what)
    if not low <= value <= high:
        raise ValueError(f"{what} lies in [{low:g}, {high:g}], got {value:g}")
    return value


def whole(value: Any, what: str, low: int, high: int) -> int:
    """A whole number within [low, high] (a slot, a cue number, a cookie)."""
    value = bounded(value, what, low, high)
    if value != int(value):
        raise ValueError(f"{what} wants a whole number, got {value:g}")
    return int(value)


def beat_position(value: Any, what: str = "beat") -> float:
    """An external beat position, within +-MAX_BEAT."""
    return bounded(value, what, -MAX_BEAT, MAX_BEAT)


def cycle_position(value: Any, what: str = "cycle") -> float:
    """Tidal's cycle (a bar of four beats), within +-MAX_CYCLE."""
    return bounded(value, what, -MAX_CYCLE, MAX_CYCLE)


# Characters no name or text from outside may hold, by Unicode category: controls (Cc: a NUL cut
# every /mrt/status and /mrt/sync after it short, as OSC strings end at one), format characters
# (Cf: the bidi overrides and isolates that make a name read backwards, zero-width spaces and
# joiners that make two names look alike), surrogates (Cs: no UTF-8 holds one, so a reply with
# it cannot be encoded), private use (Co: every font draws them differently or not at all, so a
# performer cannot read them) and unassigned code points (Cn). Refused rather than stripped: a
# name that changed on the way in would not be the name the sender uses next. A text's line
# breaks and tabs are layout, not tricks: `text` lets those through, a name does not.
UNREADABLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))
LAYOUT = frozenset("\t\n\r")


def readable(value: str, what: str, layout: bool = False) -> str:
    """`value` if a person can read every character of it as it is; ValueError naming the first
    one that is not (U+ and its Unicode name), so the sender can find it."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in UNREADABLE and not (layout and char in LAYOUT):
            shown = unicodedata.name(char, "") or {"Cc": "a control character", "Cs": "a surrogate", "Co": "private use"}.get(
                unicodedata.category(char), "unassigned")
            raise ValueError(f"{what} holds an invisible or control character at {index}: U+{ord(char):04X} ({shown})")
    return value


def text(value: Any, what: str) -> str:
    """1-1000 readable characters of text (line breaks and tabs allowed), not all blank."""
    if not isinstance(value, str):
        raise ValueError(f"{what} wants text, got {type_name(value)}")
    if not value.strip() or len(value) > MAX_TEXT:
        raise ValueError(f"{what} wants 1-{MAX_TEXT} characters of text")
    return readable(value, what, layout=True)


def name_text(value: Any, what: str, longest: int = MAX_TEXT) -> str:
    """A name a performer reads (a scene's, a cue's, a recording's): 1-`longest` readable
    characters on one line, not all blank."""
    if not isinstance(value, str):
        raise ValueError(f"{what} wants text, got {type_name(value)}")
    if not value.strip() or len(value) > longest:
        raise ValueError(f"{what} wants 1-{longest} characters of text")
    return readable(value, what)


def switch(value: Any) -> bool:
    """A switch's argument: 0 or 1 (a switch sent no argument is on)."""
    return bool(PARAMS["mute"].coerce(number(value, "switch")))


def prompt_name(name: object) -> str:
    """A prompt's name: text, or a slot number, which names it too (mrtd's slots count from 1, the
    official externals number their six 0-5: examples/max/mrt_tilde.mm `mrt_prompt`)."""
    if isinstance(name, bool):
        raise ValueError(f"a prompt name is text or a slot number, got {name!r}")
    if isinstance(name, (int, float)) and math.isfinite(name) and name == int(name):
        return str(whole(name, "a prompt slot", 0, MAX_SLOT))  # a slot number is a name too
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_PROMPT_NAME:
        raise ValueError(f"a prompt name is 1-{MAX_PROMPT_NAME} characters of text or a slot number, got {name!r}")
    return readable(name.strip(), "a prompt name")


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
