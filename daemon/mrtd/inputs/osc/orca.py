"""ORCA's `=` operator: `=` then a one-glyph path then glyphs, sent as `/<path>` with one int per glyph.

ORCA (hundredrabbits/Orca, desktop) reads the glyphs east of the path up to the
first `.` and appends each as its base-36 value (0-9, then a/A = 10 ... z/Z = 35),
so `=n4c` sends `/n 4 12`. Every argument is therefore an integer 0-35; this
module maps those small numbers onto mrtd's commands.

A dialect parser: each handler gets the table's raw request (`req.args()`, the glyph values as
sent) and its envelope (`env.due`), and reads the glyphs itself, since what they mean depends
on the daemon (the prompts' order, the tempo); what it submits are the commands every input uses.
"""

from __future__ import annotations

import time
from typing import Any

from mrtd.vocabulary.codec import Message as Reply
from mrtd.control import commands as c
from mrtd.vocabulary.params import PARAMS, finite_number

BASE = 36
TOP = BASE - 1  # the largest glyph value, z

# `=p<i><v>`: parameter i, value v scaled from 0-35 onto its range.
PARAM_ORDER = ("temperature", "top_k", "cfg_style", "cfg_notes", "cfg_drums", "volume", "unmask", "drums")


def glyphs(args: list[Any], low: int, high: int) -> list[int]:
    if not low <= len(args) <= high:
        raise ValueError(f"wants {low}-{high} base-36 values, got {len(args)}")
    values = []
    for arg in args:
        number = finite_number(arg, "glyph value")
        if number != int(number) or not 0 <= number <= TOP:
            raise ValueError(f"ORCA sends base-36 glyph values 0-{TOP}, got {arg}")
        values.append(int(number))
    return values


def note(host: Any, req: Any, env: Any) -> None:
    """`=n<octave><semitone>[velocity[length]]`: pitch 12 * (octave + 1) + semitone (so `=n40` is C4 = 60),
    velocity 0-35 onto 0-127 (default z, 127), length in sixteenth notes at the daemon's tempo (default 1;
    0 releases the pitch)."""
    octave, semitone, *rest = glyphs(req.args(), 2, 4)
    velocity = round(rest[0] * 127 / TOP) if rest else 127
    steps = rest[1] if len(rest) > 1 else 1
    on = c.NoteOn.checked(12 * (octave + 1) + semitone, max(1, velocity))
    if steps == 0:
        host.submit(c.NoteOff(on.pitch), env.due)
        return
    sixteenth = 60.0 / host.dialects().bpm() / 4.0
    start = env.due if env.due is not None else time.time()
    host.submit(on, env.due)
    host.submit(c.NoteOff(on.pitch), start + steps * sixteenth)


def param(host: Any, req: Any, env: Any) -> None:
    """`=p<index><value>`: the index-th of PARAM_ORDER, value 0-35 spread over its range."""
    index, raw = glyphs(req.args(), 2, 2)
    if index >= len(PARAM_ORDER):
        raise ValueError(f"parameter index is 0-{len(PARAM_ORDER) - 1} ({', '.join(PARAM_ORDER)}), got {index}")
    spec = PARAMS[PARAM_ORDER[index]]
    value = spec.low + (spec.high - spec.low) * raw / TOP
    host.submit(c.SetParam.checked(spec.name, round(value) if spec.kind is int else value), env.due)


def weight(host: Any, req: Any, env: Any) -> None:
    """`=w<slot><value>`: the weight (0-35 onto 0-1) of the slot-th prompt in name order."""
    slot, raw = glyphs(req.args(), 2, 2)
    names = host.dialects().prompt_names()
    if slot >= len(names):
        raise ValueError(f"prompt slot {slot}: there are {len(names)} prompts")
    host.submit(c.SetWeight.checked(names[slot], raw / TOP), env.due)


def cue(host: Any, req: Any, env: Any) -> None:
    """`=c<number>`: go to that cue."""
    (number,) = glyphs(req.args(), 1, 1)
    host.cue(str(number), env.due)


def tempo(host: Any, req: Any, env: Any) -> None:
    """`=t<high><low>`: BPM = 36 * high + low (`=t3c` is 120)."""
    high, low = glyphs(req.args(), 2, 2)
    host.submit(c.SetParam.checked("tempo", high * BASE + low), env.due)


def clear(host: Any, req: Any, env: Any) -> None:
    """`=x`: release every note."""
    glyphs(req.args(), 0, 0)
    host.submit(c.NotesClear(), env.due)
