"""Turns note on/off events into the model's 128 note slots, frame by frame.

DESIGN section 1: -1 masked, 0 off, 1 held, 2 onset, 3 on (model chooses).
- Onsets latch: a note pressed and released inside one frame still sounds
  for that frame, so fast drum-pad hits are never lost.
- Onset mode 0 sends 3 while a note is held; mode 1 sends 2 on the onset
  frame and 1 after.
- Unmask width w < 127 ("jam"): every pitch is masked except those within
  ±w of a held note, which are explicitly off (or on). w >= 127 ("solo"):
  every pitch is explicit.
"""

from __future__ import annotations

import numpy as np

from mrtd.conditioning import MASKED, NOTE_HELD, NOTE_OFF, NOTE_ON_MODEL, NOTE_ONSET, NOTE_SLOTS

SOLO_WIDTH = 127


class NoteTracker:
    def __init__(self) -> None:
        self.held: dict[int, int] = {}  # pitch -> velocity, in press order
        self._onsets: set[int] = set()  # pressed since the last frame (latched)
        self._slots = np.full(NOTE_SLOTS, MASKED, dtype=np.int8)

    def note_on(self, pitch: int, velocity: int = 100) -> None:
        if velocity == 0:  # MIDI running-status convention: note-on with velocity 0 is note-off
            self.note_off(pitch)
            return
        self.held[pitch] = velocity
        self._onsets.add(pitch)

    def note_off(self, pitch: int) -> None:
        self.held.pop(pitch, None)  # a latched onset stays: it sounds for one frame

    def clear(self) -> None:
        self.held.clear()
        self._onsets.clear()

    @property
    def any_held(self) -> bool:
        """Whether a note is held now. The MIDI gate's key, as the official runner's count of notes
        down (core/src/realtime_runner.cpp `set_note_on`/`set_note_off`): a latched onset of a
        note already released reaches the model, but does not open the gate."""
        return bool(self.held)

    def frame_slots(self, unmask_width: int, onset_mode: int) -> np.ndarray:
        """The next frame's slots; consumes the latched onsets. Returns a reused array."""
        slots = self._slots
        sounding = set(self.held) | self._onsets
        if unmask_width >= SOLO_WIDTH:
            slots.fill(NOTE_OFF)
        else:
            slots.fill(MASKED)
            for pitch in sounding:
                slots[max(0, pitch - unmask_width) : pitch + unmask_width + 1] = NOTE_OFF
        for pitch in sounding:
            if onset_mode == 0:
                slots[pitch] = NOTE_ON_MODEL
            else:
                slots[pitch] = NOTE_ONSET if pitch in self._onsets else NOTE_HELD
        self._onsets.clear()
        return slots
