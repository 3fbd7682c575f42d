"""The table of scalar parameters every input can set: name, type, range, default.

One table serves validation, the OSC dispatcher, scene files and /status, so a
parameter's range is written down exactly once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mrtd import conditioning as c


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # float, int or bool
    low: float
    high: float
    default: float
    doc: str
    continuous: bool = True  # faders coalesce; switches and discrete events do not
    unit: str = ""  # how the reference page names a value ('dB'); empty: its kind ('f', 'i')

    def coerce(self, value: object) -> float | int | bool:
        """Check and convert `value`; raise ValueError with a reason a person can act on."""
        value = finite_number(int(value) if isinstance(value, bool) else value, self.name)
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must lie in [{_fmt(self.low)}, {_fmt(self.high)}], got {_fmt(value)}")
        if self.kind is float:
            return float(value)
        if float(value) != int(value):
            raise ValueError(f"{self.name} wants a whole number, got {value}")
        return bool(value) if self.kind is bool else int(value)


    def shown(self) -> str:
        """A value as the reference page shows it: 'f 0..3', 'dB -60..12', 'i -1|0|1'."""
        unit = self.unit or ("f" if self.kind is float else "i")
        if self.kind is not float and self.high - self.low <= 2:  # a few choices: name each
            return f"{unit} " + "|".join(str(v) for v in range(int(self.low), int(self.high) + 1))
        span = f"{_fmt(self.low)}..{_fmt(self.high)}" if self.kind is float else f"{int(self.low)}..{int(self.high)}"
        return f"{unit} {span}"


def type_name(value: object) -> str:
    """How a person would name what they sent."""
    names = {str: "text", bytes: "a blob", int: "an int", float: "a float", bool: "a bool"}
    return names.get(type(value), type(value).__name__)


def finite_number(value: object, what: str) -> float:
    """`value` as a float, or ValueError: every number from outside goes through here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} wants a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return float(value)


def _fmt(x: float) -> str:
    return f"{x:g}"


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("temperature", float, *c.TEMPERATURE_RANGE, c.DEFAULT_TEMPERATURE, "sampling temperature"),
        Param("top_k", int, *c.TOP_K_RANGE, c.DEFAULT_TOP_K, "sampling top-k"),
        Param("seed", int, 0, 2**31 - 1, 0, "seed (applied at reset)", continuous=False),
        Param("cfg_style", float, *c.CFG_RANGE, c.DEFAULT_CFG_STYLE, "guidance toward the style prompt"),
        Param("cfg_notes", float, *c.CFG_RANGE, c.DEFAULT_CFG_NOTES, "guidance toward the held notes"),
        Param("cfg_drums", float, *c.CFG_RANGE, c.DEFAULT_CFG_DRUMS, "guidance toward the drum setting"),
        Param("drums", int, -1, 1, c.DRUMS_AUTO, "-1 model decides, 0 no drums, 1 drums", continuous=False),
        Param("volume", float, -60.0, 12.0, 0.0, "output volume in dB", unit="dB"),
        Param("mute", bool, 0, 1, False, "silence the output, keep generating", continuous=False),
        Param("bypass", bool, 0, 1, False, "stop generating and fade to silence", continuous=False),
        Param("unmask", int, 0, 127, 0, "note unmask width: <127 jam around held notes, 127 solo"),
        # Default 0 as in the official engine, apps and plugin: a held note asks the model to
        # play it ('on') and leaves the attack to the model, the way MRT2 is played there.
        Param("onset_mode", int, 0, 1, 0, "0: held notes send 'on'; 1: onset then held", continuous=False),
        Param("midigate", bool, 0, 1, False, "silent unless a note is held", continuous=False),
        # The Jam app's Solo (runtime/solo.py, style/prompt_text.py): off is its Accompany.
        Param("solo", bool, 0, 1, False, "the Jam app's Solo: 'SOLO ' prompts, a gate on held notes", continuous=False),
        Param("tempo", float, 20.0, 400.0, 120.0, "tempo in BPM", unit="bpm"),
        Param("meter", int, 1, 32, 4, "beats per bar", continuous=False),
        # Following what mrtd hears (--listen, inputs/listen/): off by default, each switchable live.
        Param("listen_notes", bool, 0, 1, False, "the notes and chords heard become the held notes", continuous=False),
        Param("listen_tempo", bool, 0, 1, False, "the beat heard sets the tempo and bar phase", continuous=False),
        Param("listen_style", float, 0.0, 1.0, 0.0, "weight of the `listen` prompt, the last bars heard (0: off)"),
    )
}
