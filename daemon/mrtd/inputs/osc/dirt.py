"""SuperDirt-shaped events: `/dirt/play` (Tidal 1.x, Strudel's OSC bridge) and `/play2` (older Tidal).

An event is name/value pairs. The select key (SuperDirt's `s`, configurable)
says what the event means; the other keys fill it in. Everything becomes the
same typed commands the rest of mrtd speaks, due at the event's timetag, so a
note lands on the frame heard at its time and ends by itself `sustain` (or
`legato * delta`, or `delta`) seconds later.

Pitches follow SuperDirt, as Tidal users expect: `note` (or `n` when there is
no `note`) counts semitones from C5 = MIDI 60, moved by `octave` (default 5);
`midinote` is an absolute MIDI pitch (Strudel sends note names that way).
This differs from `/mrt/event`, which guesses (`note` < 24 is relative):
SuperDirt's own rule is exact, and a SuperDirt target should sound the same
pitch here as it would there.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from mrtd.vocabulary.codec import Message as Reply
from mrtd.control import commands as c
from mrtd.vocabulary.params import PARAMS, finite_number, type_name
from mrtd.vocabulary.replies import Error
from mrtd.vocabulary.values import MAX_CYCLE, MAX_SLOT, bounded

if TYPE_CHECKING:
    from mrtd.inputs.osc.dialect import Dialects

# SuperDirt's and Tidal's housekeeping: neither meaning nor mistake, so neither used nor counted.
HOUSEKEEPING = ("orbit", "latency", "lock", "unit", "clip")  # clip: Strudel has applied it to delta already
MAX_PAIRS = 128
DEFAULT_DELTA = 0.25  # seconds, for senders that give no length at all
MAX_LENGTH = 60.0  # seconds

# Where each number key may lie, checked as it is read: finite is not enough for a value that
# reaches the clock (`cycle`) or is added, multiplied and rounded into a pitch or a velocity
# (`note 1e308 octave 1e308` overflowed `round`). Generous: SuperDirt's own ranges are smaller.
KEY_BOUNDS: dict[str, tuple[float, float]] = {
    "cycle": (-MAX_CYCLE, MAX_CYCLE),
    "cps": (0.0, 100.0),  # tempo checks 20-400 BPM itself; this keeps cps * 240 a plain number
    "note": (-1000.0, 1000.0),
    "octave": (-100.0, 100.0),
    "midinote": (-1000.0, 1000.0),
    "velocity": (0.0, 127.0),
    "gain": (0.0, 100.0),  # also a prompt's weight, whose range it is
    "weight": (0.0, 100.0),
    "delta": (0.0, MAX_LENGTH * 1000.0),
    "sustain": (0.0, MAX_LENGTH * 1000.0),
    "legato": (0.0, 1000.0),
}

# The reference page lists these (docs/osc.md, generated): key, what it does.
KEYS: tuple[tuple[str, str], ...] = (
    ("s", "what the event means (the select key, `dirt.select` in the config): see the sounds below; "
          "`name:index` is split as SuperDirt does, the index standing in for a missing `n`"),
    ("n", "note sounds: pitch, 0 = C5 = MIDI 60; parameter sounds: the value; `cue`: the cue number"),
    ("note", "pitch, as `n` (wins over `n`)"),
    ("midinote", "absolute MIDI pitch 0-127 (Strudel sends note names as this)"),
    ("octave", "SuperDirt's octave (default 5): pitch = note + 12 * octave"),
    ("velocity", "note velocity, 0-1 (or 1-127); default from `gain`"),
    ("gain", "notes: velocity = 100 * gain (at most 127); prompt sounds: the prompt's weight"),
    ("sustain", "note length in seconds"),
    ("legato", "note length as a fraction of `delta`"),
    ("delta", "the event's length in seconds (Tidal and Strudel add it); a note's length by default"),
    ("cps", "tempo: cycles per second, one cycle a bar of four beats (BPM = 240 * cps)"),
    ("cycle", f"bar position: cycle N starts beat 4N at the event's time (within +-{MAX_CYCLE:,.0f})"),
    ("any mrtd parameter", "by name: " + ", ".join(PARAMS)),
    ("prompt + weight", "one prompt's weight"),
    ("cue", "go to the cue of that name"),
    ("orbit, latency, lock, unit, clip, _*", "SuperDirt, Tidal and Strudel housekeeping (Strudel has applied `clip` to `delta`): ignored, not counted"),
    ("anything else", "ignored and counted (`/mrt/status`: dialect_unknown_keys, dialect_unknown)"),
)

SOUNDS: tuple[tuple[str, str], ...] = (
    ("a name in `dirt.sounds`", "what the config says: note, param:NAME, cue, cue:NAME, prompt:NAME or ignore"),
    ("`cue`", "go to cue number `n` (`s \"cue:2\"`)"),
    ("a parameter name", "set it to `n`: `s \"temperature\" # n 1.4`"),
    ("a prompt of the scene", "set its weight to `gain` (default 1): `stack [s \"dark\" # gain 0.3, s \"bright\" # gain 0.7]`"),
    ("anything else (`mrt`, `superpiano` ...)", "a note when the event has `n`, `note` or `midinote`; the other keys apply either way"),
)


def play(host: Any, req: Any, env: Any) -> list[Reply] | None:
    """The `/dirt/play` and `/play2` handler (an OSC table row): a dialect parser, reading the raw
    name/value pairs of its request (`req.args()`) itself, since what a key means depends on the
    configuration (`dirt.sounds`); what it submits are the commands every input uses."""
    dialects: Dialects = host.dialects()
    pairs = _pairs(req.args())
    dialects.events += 1
    errors: list[tuple[str, str]] = []
    used: set[str] = set()
    commands: list[tuple[c.Command, float | None]] = []
    cues: list[str] = []
    due = env.due

    def value(key: str, convert: Callable[[Any], Any] | None = None) -> Any:
        used.add(key)
        try:
            if convert:
                return convert(pairs[key])
            low, high = KEY_BOUNDS.get(key, (-float("inf"), float("inf")))
            return bounded(pairs[key], key, low, high) if key in KEY_BOUNDS else finite_number(pairs[key], key)
        except ValueError as exc:
            errors.append((key, str(exc)))
            return None

    def attempt(key: str, build: Callable[[], Any]) -> None:
        try:
            commands.append((build(), due))
        except ValueError as exc:
            errors.append((key, str(exc)))

    select = dialects.config.select
    sound = None
    if select in pairs:
        sound = value(select, _sound)
        if sound is not None and ":" in sound:  # SuperDirt's "name:index"
            sound, _, index = sound.partition(":")
            if "n" not in pairs and index:
                pairs["n"] = index
    kind, target = _meaning(dialects, sound)

    # Time: Tidal and Strudel stamp every event with the tempo and their position.
    bpm = None
    if "cps" in pairs and (cps := value("cps")) is not None:
        attempt("cps", lambda: c.SetParam.checked("tempo", cps * 240.0))
        bpm = cps * 240.0 if 20.0 <= cps * 240.0 <= 400.0 else None
    if "cycle" in pairs and (cycle := value("cycle")) is not None:
        attempt("cycle", lambda: c.AlignBeat(cycle * 4.0, due, bpm))

    # Keys that mean the same in every event. Lengths are understood everywhere, used by notes only.
    used.update(("delta", "sustain", "legato"))
    for key in pairs:
        if key in PARAMS and key != select:
            if (number := value(key, partial(_number, name=key))) is not None:
                attempt(key, partial(c.SetParam.checked, key, number))
    if "cue" in pairs and kind != "cue" and (name := value("cue", _sound)) is not None:
        cues.append(name)
    if "prompt" in pairs and "weight" in pairs:
        name, weight = value("prompt", _sound), value("weight")
        if name is not None and weight is not None:
            attempt("weight", lambda: c.SetWeight.checked(name, weight))

    # What the sound says.
    if kind == "note":
        _note(pairs, value, used, commands, due, errors)
    elif kind == "param" and "n" in pairs and (number := value("n")) is not None:
        attempt("n", lambda: c.SetParam.checked(target, number))
    elif kind == "prompt":
        weight = value("gain") if "gain" in pairs else value("weight") if "weight" in pairs else 1.0
        if weight is not None:
            attempt("gain", lambda: c.SetWeight.checked(target, weight))
    elif kind == "cue":
        if target:
            cues.append(target)
        elif "n" in pairs and (number := value("n")) is not None:
            if 0 <= number <= MAX_SLOT:
                cues.append(str(int(number)))
            else:
                errors.append(("n", f"a cue number lies in [0, {MAX_SLOT}], got {number:g}"))

    for command, when in commands:
        host.submit(command, when)
    for name in cues:
        try:
            host.cue(name, due)
        except ValueError as exc:
            errors.append(("cue", str(exc)))
    unknown = [key for key in pairs if key not in used and key != select]
    if unknown:
        dialects.unknown(unknown)
    return _errors(dialects, env.address, errors)


def _note(pairs, value, used, commands, due, errors) -> None:
    if "midinote" in pairs:
        pitch = value("midinote")
        used.update(("note", "n", "octave"))  # Strudel sends the note name beside the pitch it stands for
    elif "note" in pairs or "n" in pairs:
        relative = value("note") if "note" in pairs else value("n", lambda v: bounded(v, "n", *KEY_BOUNDS["note"]))
        octave = value("octave") if "octave" in pairs else 5.0
        pitch = None if relative is None or octave is None else relative + 12.0 * octave
    else:
        return  # no pitch: an event of parameters only
    if pitch is None:
        return
    pitch = round(pitch)  # SuperDirt plays fractional notes detuned; the model has whole pitches
    velocity: Any = 100
    if "velocity" in pairs:
        velocity = value("velocity")
        if isinstance(velocity, float) and 0.0 <= velocity <= 1.0:
            velocity = round(velocity * 127)
    elif "gain" in pairs and (gain := value("gain")) is not None:
        velocity = max(1, min(127, round(gain * 100)))
    if velocity is None:
        return
    delta = value("delta") if "delta" in pairs else DEFAULT_DELTA
    if "sustain" in pairs:
        length = value("sustain")
    elif "legato" in pairs:
        legato = value("legato")
        length = None if legato is None or delta is None else legato * delta
    else:
        length = delta
    if length is None:
        return
    if not 0.0 < length <= MAX_LENGTH:
        errors.append(("sustain", f"a note lasts (0, {MAX_LENGTH:g}] seconds, got {length:g}"))
        return
    try:
        on = c.NoteOn.checked(pitch, velocity)
    except ValueError as exc:
        errors.append(("note", str(exc)))
        return
    start = due if due is not None else time.time()
    commands.append((on, due))
    commands.append((c.NoteOff(on.pitch), start + length))  # the note ends by itself


def _pairs(args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise ValueError("wants name value pairs")
    if len(args) > 2 * MAX_PAIRS:
        raise ValueError(f"at most {MAX_PAIRS} name value pairs")
    pairs: dict[str, Any] = {}
    for name, value in zip(args[::2], args[1::2]):
        if not isinstance(name, str):
            raise ValueError(f"an event name must be text, got {type_name(name)}")
        if name.startswith("_") or name in HOUSEKEEPING:
            continue
        pairs[name] = value
    return pairs


def _sound(value: Any) -> str:
    if isinstance(value, bytes) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"wants text, got {type_name(value)}")
    text = str(value)
    if not text or len(text) > 200:
        raise ValueError("wants 1-200 characters")
    return text


def _number(value: Any, name: str) -> Any:
    # Integer parameters arrive as floats from Tidal (`pI` aside) and Strudel: keep the number as it is.
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else finite_number(value, name)


def _meaning(dialects: "Dialects", sound: str | None) -> tuple[str, str]:
    if sound is None:
        return "note", ""
    configured = dialects.config.sounds.get(sound)
    if configured is not None:
        kind, _, target = configured.partition(":")
        return kind, target
    if sound == "cue":
        return "cue", ""
    if sound in PARAMS:
        return "param", sound
    if sound in dialects.prompt_names():
        return "prompt", sound
    return "note", ""


def _errors(dialects: "Dialects", address: str, errors: list[tuple[str, str]]) -> list[Reply] | None:
    """One error back per event at most, and per key at most once a second; every one counted."""
    replies: list[Reply] = []
    for key, reason in errors:
        if dialects.type_error(key) and not replies:
            replies.append(Error(address, f"{key}: {reason}").message())
    return replies or None


def keys_markdown() -> list[str]:
    lines = ["| key | what it does |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" if not k.startswith(("any", "anything", "prompt +", "orbit")) else f"| {k} | {v} |" for k, v in KEYS]
    lines += ["", "What the select key's value (the sound) means, first match wins:", "", "| sound | meaning |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in SOUNDS]
    return lines
