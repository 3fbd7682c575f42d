"""When the host's transport arrives at its start, from MIDI's transport messages.

The official AU plugin resets the model when the host's beat position arrives at 0: an edge,
so once per arrival (a timeline that loops back to 0 resets again; a transport paused at 0 does
not keep resetting), and the first block at 0 after the plugin loads counts as an arrival
(magenta-realtime 2.0.3, examples/mrt2/auv3/MagentaRT_AudioUnit.mm, `wasBeatZero`). MIDI says
where its sender's position is with Start (0xFA: from the beginning), Song Position (0xF2: to a
sixteenth) and the clock's ticks (0xF8, which move it while running): the position arrives at 0
with a Start or a Song Position of 0, and leaves it with the tick after the downbeat or a Song
Position elsewhere. Continue (0xFB) plays on from where the position is. Read from the official
code, not copied.
"""

from __future__ import annotations

from typing import Sequence

from mrtd.inputs.midi_clock import CONTINUE, SONG_POSITION, START, STOP, TICK

TICKS_PER_SIXTEENTH = 6  # 24 ppqn


class MidiTransport:
    """Fed every MIDI system real-time and song position message; says when a transport reset is due."""

    def __init__(self) -> None:
        self.running = False
        self.at_start = False  # the official `wasBeatZero`: not yet at 0 when nothing has been heard
        self._next_tick = 0  # the position, in ticks, of the next clock tick

    def feed(self, message: Sequence[int]) -> bool:
        """True when `message` brings the transport to its start (a reset is due)."""
        if not message:
            return False
        status = message[0]
        if status == START:
            self.running, self._next_tick = True, 0
            return self._arrive()
        if status == CONTINUE:
            self.running = True
        elif status == STOP:
            self.running = False
        elif status == SONG_POSITION and len(message) >= 3:
            self._next_tick = ((message[1] & 0x7F) | ((message[2] & 0x7F) << 7)) * TICKS_PER_SIXTEENTH
            if self._next_tick == 0:
                return self._arrive()
            self.at_start = False
        elif status == TICK and self.running:
            tick, self._next_tick = self._next_tick, self._next_tick + 1
            if tick > 0:  # the downbeat's tick is still the start; the next one has left it
                self.at_start = False
        return False

    def _arrive(self) -> bool:
        due = not self.at_start
        self.at_start = True
        return due
