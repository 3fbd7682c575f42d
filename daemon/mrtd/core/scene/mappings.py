"""Controller mappings: a MIDI or OSC control moving a parameter, an axis, a weight,
the surface, a cue or a switch. Runs on the input's thread and only builds commands.

A control's raw value is first normalised to 0..1 (CC/127, note on/off, 14-bit
bend, or the OSC source's range), then inverted if asked, then shaped onto the
target's range by the curve:
- lin: low + x (high - low)
- exp: low (high / low) ** x        (equal ratios per step: frequencies, gains)
- log: low + (high - low) log10(1 + 9x)   (fast at first, then gentle)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from mrtd.control import commands as c
from mrtd.vocabulary.params import PARAMS, finite_number
from mrtd.core.scene.schema import Mapping, MidiSource, OscSource

# What the OSC or MIDI input asks of the scene layer for cue and toggle targets.
CueAction = Callable[[str], c.Command]
DEFAULT_RANGES = {"axis": (-1.0, 1.0), "weight": (0.0, 1.0)}


def shape(x: float, mapping: Mapping, default: tuple[float, float]) -> float:
    x = min(max(x, 0.0), 1.0)
    if mapping.invert:
        x = 1.0 - x
    low, high = mapping.range or default
    if mapping.curve == "exp":
        return low * (high / low) ** x
    if mapping.curve == "log":
        return low + (high - low) * math.log10(1.0 + 9.0 * x)
    return low + x * (high - low)


def midi_matches(source: MidiSource, status: int, data1: int) -> bool:
    kind, channel = status & 0xF0, (status & 0x0F) + 1
    if source.channel is not None and source.channel != channel:
        return False
    if source.cc is not None:
        return kind == 0xB0 and data1 == source.cc
    if source.note is not None:
        return kind in (0x80, 0x90) and data1 == source.note
    return kind == 0xE0


def midi_value(message: list[int]) -> float:
    """A MIDI message's control value in 0..1."""
    status = message[0] & 0xF0
    if status == 0xE0:
        return ((message[2] << 7) | message[1]) / 16383.0
    if status == 0x80 or (status == 0x90 and message[2] == 0):
        return 0.0
    if status == 0x90:
        return 1.0
    return message[2] / 127.0


def osc_value(source: OscSource, args: list) -> float | None:
    if source.arg >= len(args):
        return None
    try:
        value = finite_number(args[source.arg], "value")
    except ValueError:
        return None
    low, high = source.range
    return (value - low) / (high - low) if high != low else 0.0


@dataclass
class _Edge:
    """Buttons act on the press, not the release."""

    pressed: bool = False


@dataclass
class MappingTable:
    mappings: list[Mapping]
    cue_command: CueAction  # builds the command that moves the cue list
    _edges: dict[int, _Edge] = field(default_factory=dict)
    _surface: dict[int, list[float]] = field(default_factory=dict)

    def handles_note(self, status: int, pitch: int) -> bool:
        return any(m.midi is not None and m.midi.note == pitch and midi_matches(m.midi, status, pitch) for m in self.mappings)

    def from_midi(self, message: list[int]) -> list[c.Command]:
        if len(message) < 3:
            return []
        out: list[c.Command] = []
        for index, mapping in enumerate(self.mappings):
            if mapping.midi is not None and midi_matches(mapping.midi, message[0], message[1]):
                out += self._target(index, mapping, midi_value(message))
            elif mapping.surface is not None:
                for axis, source in mapping.surface.items():
                    if source.midi is not None and midi_matches(source.midi, message[0], message[1]):
                        out += self._surface_move(index, mapping, axis, midi_value(message))
        return out

    def from_osc(self, address: str, args: list) -> list[c.Command] | None:
        """Commands for a mapped OSC address, or None when no mapping listens there."""
        out: list[c.Command] = []
        matched = False
        for index, mapping in enumerate(self.mappings):
            if mapping.osc is not None and mapping.osc.address == address:
                matched = True
                value = osc_value(mapping.osc, args)
                if value is None:
                    raise ValueError(f"mapped address wants a number at argument {mapping.osc.arg}")
                out += self._target(index, mapping, value)
            elif mapping.surface is not None:
                for axis, source in mapping.surface.items():
                    if source.osc is not None and source.osc.address == address:
                        matched = True
                        value = osc_value(source.osc, args)
                        if value is None:
                            raise ValueError(f"mapped address wants a number at argument {source.osc.arg}")
                        out += self._surface_move(index, mapping, axis, value)
        return out if matched else None

    def _target(self, index: int, mapping: Mapping, x: float) -> list[c.Command]:
        if mapping.param is not None:
            param = PARAMS[mapping.param]
            value = shape(x, mapping, (param.low, param.high))
            if param.kind is int:
                value = round(value)
            value = min(max(value, param.low), param.high)
            if param.kind is bool:
                return [c.SetParam(mapping.param, value >= 0.5)]
            if mapping.smoothing > 0 and param.continuous:
                return [c.Glide(mapping.param, value, mapping.smoothing)]
            return [c.SetParam.checked(mapping.param, value)]
        if mapping.axis is not None:
            axis: int | str = int(mapping.axis) if mapping.axis.isdigit() else mapping.axis
            return [c.SetAxis(axis, shape(x, mapping, DEFAULT_RANGES["axis"]))]
        if mapping.weight is not None:
            return [c.SetWeight(mapping.weight, max(0.0, shape(x, mapping, DEFAULT_RANGES["weight"])))]
        # Buttons: cue triggers and toggles act once per press.
        edge = self._edges.setdefault(index, _Edge())
        pressed = (1.0 - x if mapping.invert else x) >= 0.5
        rising = pressed and not edge.pressed
        edge.pressed = pressed
        if not rising:
            return []
        if mapping.cue is not None:
            return [self.cue_command(mapping.cue)]
        assert mapping.toggle is not None
        return [c.Toggle(mapping.toggle)]

    def _surface_move(self, index: int, mapping: Mapping, axis: str, x: float) -> list[c.Command]:
        xy = self._surface.setdefault(index, [0.5, 0.5])
        xy[0 if axis == "x" else 1] = shape(x, mapping, (0.0, 1.0))
        return [c.SetXY(xy[0], xy[1])]
