"""MIDI in the running daemon: the input's lifecycle, routing each message, and MIDI learn.

A message goes to one place: clock and transport to the tempo follower (when
the tempo source is MIDI; the transport's start also resets the model,
inputs/transport.py), a control moved during learn to the new mapping,
anything a scene maps to its mapping, and notes the scene does not take to the
model as notes. It runs on the MIDI input's thread and only queues commands.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from mrtd.core.scenes import SceneHost
from mrtd.control import commands as c
from mrtd.control.state import Controls
from mrtd.inputs.midi import MidiInput
from mrtd.inputs.midi_clock import STATUSES as MIDI_CLOCK_STATUSES
from mrtd.inputs.midi_clock import MidiClock
from mrtd.inputs.transport import MidiTransport
from mrtd.control.transport import TransportReset
from mrtd.core.scene.schema import Mapping, MidiSource
from mrtd.vocabulary.replies import Learned

log = logging.getLogger(__name__)

LEARN_KINDS = ("param", "axis", "weight", "cue", "toggle")
ALL_SOUND_OFF = 120  # channel mode messages (MIDI 1.0: controllers 120-127)
ALL_NOTES_OFF = 123


class MidiHost:
    def __init__(self, control: Controls, scenes: SceneHost,
                 publish: Callable[[dict[str, list[Any]]], None] = lambda _messages: None,
                 clock: MidiClock | None = None, transport: MidiTransport | None = None) -> None:
        """`clock`: the MIDI clock follower when the tempo source is MIDI, else None. `transport`:
        says when the sender's transport starts (a reset, control/transport.py); None: ignored."""
        self._control = control
        self._scenes = scenes
        self._publish = publish
        self._clock = clock
        self._transport = transport
        self.input: MidiInput | None = None
        self._learning: dict[str, str] | None = None

    def start(self, ports: list[str] | tuple[str, ...] = ()) -> None:
        """Open the ports (and a virtual one); without an ALSA sequencer or JACK, MIDI stays off."""
        self.input = MidiInput(self.on_midi, ports=list(ports), virtual=True)
        if not self.input.start():
            self.input = None

    def stop(self) -> None:
        if self.input is not None:
            self.input.stop()

    def ports(self) -> str:
        """The open ports, for status ("off" when MIDI is off)."""
        return ",".join(self.input.open_ports) if self.input is not None else "off"

    def on_midi(self, message: list[int], at: float | None = None) -> None:
        """One MIDI message; `at`: time.monotonic() when it arrived (None: now)."""
        if not message:
            return
        if message[0] in MIDI_CLOCK_STATUSES:  # transport and clock: the tempo source's, if it is MIDI
            if self._transport is not None and self._transport.feed(message):
                self._control.submit(TransportReset())  # at the transport's start, as the official plugin at beat 0
            if self._clock is not None:
                now = time.monotonic()
                at = now if at is None else at
                for command in self._clock.feed(message, at, time.time() - (now - at)):
                    self._control.submit(command)
            return
        status = message[0] & 0xF0
        if status == 0xB0 and len(message) >= 3 and message[1] in (ALL_SOUND_OFF, ALL_NOTES_OFF):
            self._all_off(message[1])  # channel mode messages: never learned or mapped, on any channel
            return
        if status in (0xB0, 0x90, 0x80, 0xE0) and len(message) >= 3 and self._learning is not None:
            if status != 0x80 and not (status == 0x90 and message[2] == 0):
                self._learn_from(message)
            return
        taken = self._scenes.from_midi(message)
        if status in (0x90, 0x80) and len(message) >= 3 and not taken:
            if status == 0x90 and message[2] > 0:
                self._control.submit(c.NoteOn(message[1], message[2]))
            else:
                self._control.submit(c.NoteOff(message[1]))

    def _all_off(self, controller: int) -> None:
        """CC 123 (All Notes Off, what a DAW sends on stop and a panic button on every channel):
        release every held note, whichever channel or input held it, as /mrt/notes/clear does.
        CC 120 (All Sound Off) asks for silence of what is sounding now, release tails included:
        every note is released and the engine is reset, so the context that still carries the
        notes is dropped (the buffered audio ducks within a frame and the fresh context fades
        in; /mrt/reset). Neither mutes: the music goes on without the notes, as the next note
        played sounds again; a mute that stayed on would need a second message to undo."""
        self._control.submit(c.NotesClear())
        if controller == ALL_SOUND_OFF:
            self._control.submit(c.Reset(at_once=True))
        log.info("MIDI %s", "all sound off: notes released, engine reset" if controller == ALL_SOUND_OFF else "all notes off")

    # -- MIDI learn -----------------------------------------------------------------------------
    def learn(self, kind: str, name: str) -> None:
        if kind not in LEARN_KINDS:
            raise ValueError(f"learn what? one of {', '.join(LEARN_KINDS)} then a name")
        Mapping.model_validate({kind: name, "midi": {"cc": 0}})  # the same checks as a scene file
        if self.input is None:
            raise ValueError("MIDI is off (no ALSA sequencer or JACK server), so there is nothing to learn from")
        self._learning = {kind: name}
        log.info("MIDI learn: move a control for %s %s", kind, name)

    def _learn_from(self, message: list[int]) -> None:
        target, self._learning = self._learning, None
        assert target is not None
        status, channel = message[0] & 0xF0, (message[0] & 0x0F) + 1
        if status == 0xB0:
            source = MidiSource(cc=message[1], channel=channel)
        elif status == 0xE0:
            source = MidiSource(bend=True, channel=channel)
        else:
            source = MidiSource(note=message[1], channel=channel)
        mapping = Mapping.model_validate({**target, "midi": source.model_dump(exclude_defaults=True)})
        self._scenes.add_mapping(mapping)
        described = source.model_dump(exclude_defaults=True)
        kind, name = next(iter(target.items()))
        log.info("MIDI learn: %s %s <- %s", kind, name, described)
        self._publish(dict([Learned(kind, name, " ".join(f"{k}={v}" for k, v in described.items())).message()]))
