"""Notes from audio: the chord or note the player sounds, as NoteOn/NoteOff commands.

Each 10 ms hop the analysis hands in the energy at each pitch (`PitchSpectrum`),
whether the input is loud enough and tonal (not noise), aubio's onset and its
monophonic pitch. The energy folded onto the twelve pitch classes (chroma) is
matched against chord templates (a single note, major and minor triads) by
cosine; a chord is taken when it matches well (`ENTER`) for `CONFIRM` hops in a
row, kept while it still matches at least `KEEP` (so the blur of two chords in
the window while one rings into the next changes nothing), and released when
the input falls silent, turns to noise or stops matching. Its notes are played
in the octave where each pitch class is loudest (a single note at aubio's pitch,
which finds the octave even when the fundamental is weak).

Onsets where the player attacks: a new chord is a NoteOn for each of its notes
(an onset in the model's note state), and an attack that keeps the chord (the
same chord struck again) is a NoteOn for its notes again, once `REATTACK` hops
have shown it is the same chord. Silence and noise open no notes: below the gate
or above the flatness bound nothing is taken, and a noise's chroma is flat,
which no template matches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mrtd.control.commands import Command, NoteOff, NoteOn

LOW_PITCH, HIGH_PITCH = 40, 96  # E2..C7: where the window resolves a semitone (8192 samples at 48 kHz)
GATE_OPEN_DB, GATE_CLOSE_DB = -50.0, -58.0  # input level (dBFS of the hop) that opens and closes the gate
MAX_FLATNESS = 0.25  # spectral flatness above this is noise (white noise's is about 0.56, a chord's < 0.05)
ENTER = 0.88  # cosine a chord needs to be taken (two triads blurred together match at most ~0.82)
KEEP = 0.6  # cosine below which the chord held is let go
CONFIRM = 3  # hops a new chord must win in a row (30 ms)
RELEASE = 5  # hops the chord may fail before it is let go (50 ms): a dip is not a release
# Hops after an attack before it is judged the same chord struck again: by then the window holds
# more of the new sound than of the old (a new chord is taken sooner, as it wins CONFIRM hops).
REATTACK = 10
PITCH_CONFIDENCE = 0.8  # aubio's yinfft confidence above which its pitch places a single note

_MAJOR, _MINOR = (0, 4, 7), (0, 3, 7)
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Template:
    name: str  # "C", "Am", "note E"
    classes: tuple[int, ...]


def _templates() -> tuple[Template, ...]:
    out = [Template(f"note {PITCH_CLASS_NAMES[r]}", (r,)) for r in range(12)]
    out += [Template(PITCH_CLASS_NAMES[r], tuple((r + i) % 12 for i in _MAJOR)) for r in range(12)]
    out += [Template(PITCH_CLASS_NAMES[r] + "m", tuple((r + i) % 12 for i in _MINOR)) for r in range(12)]
    return tuple(out)


TEMPLATES = _templates()
_TEMPLATE_MATRIX = np.zeros((len(TEMPLATES), 12), dtype=np.float64)
for _i, _t in enumerate(TEMPLATES):
    _TEMPLATE_MATRIX[_i, list(_t.classes)] = 1.0 / math.sqrt(len(_t.classes))


class PitchSpectrum:
    """The energy at each pitch LOW_PITCH..HIGH_PITCH, and the spectral flatness, of a window of
    mono samples. Made once per rate: the Hann window and the bin-to-pitch weights (each bin
    shared between the two pitches it lies between, by its distance in semitones)."""

    def __init__(self, sample_rate: int, window: int) -> None:
        self.window = window
        self._hann = np.hanning(window).astype(np.float64)
        freqs = np.fft.rfftfreq(window, 1.0 / sample_rate)
        with np.errstate(divide="ignore"):
            semitones = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1e-9) / 440.0)
        pitches = np.arange(LOW_PITCH, HIGH_PITCH + 1, dtype=np.float64)
        weights = np.clip(1.0 - np.abs(semitones[None, :] - pitches[:, None]), 0.0, None)
        used = np.flatnonzero(weights.any(axis=0))
        self._bins = slice(int(used[0]), int(used[-1]) + 1)  # only the bins some pitch takes
        self._weights = np.ascontiguousarray(weights[:, self._bins])
        self._flat_bins = (freqs >= 80.0) & (freqs <= 4000.0)
        self.energy = np.zeros(len(pitches), dtype=np.float64)
        self.flatness = 1.0

    def measure(self, mono: np.ndarray) -> None:
        """`mono`: the last `window` samples. Sets `energy` [pitches] and `flatness` (0 tonal .. 1 noise)."""
        power = np.abs(np.fft.rfft(mono * self._hann)) ** 2
        np.matmul(self._weights, power[self._bins], out=self.energy)
        band = power[self._flat_bins] + 1e-20
        self.flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))


def chroma(energy: np.ndarray) -> np.ndarray:
    """`energy` per pitch folded onto the 12 pitch classes (C = 0), unit length (zeros if silent)."""
    classes = np.zeros(12, dtype=np.float64)
    np.add.at(classes, (np.arange(LOW_PITCH, HIGH_PITCH + 1)) % 12, energy)
    norm = float(np.linalg.norm(classes))
    return classes / norm if norm > 0 else classes


def velocity_of(level_db: float) -> int:
    """An input level (dBFS) as a MIDI velocity: -60 dB and below 1, 0 dB 127."""
    return int(min(127, max(1, round(127 * (level_db + 60.0) / 60.0))))


class NoteFollower:
    """Turns each hop's measurements into the notes the model should hear (see the module)."""

    def __init__(self) -> None:
        self.chord = ""  # the template held ("" none): status and the web page show it
        self.notes: tuple[int, ...] = ()  # pitches this follower holds in the model's note state
        self.enabled = False  # whether commands go out (the analysis runs either way, for display)
        self._gate = False
        self._current: int | None = None  # template index held
        self._pending: int | None = None
        self._pending_hops = 0
        self._failing = 0
        self._attack_at: int | None = None  # hops since an onset not yet judged (None: none pending)

    def switch(self, enabled: bool) -> list[Command]:
        """Turn following on or off: on plays what is heard now, off releases what it holds."""
        if enabled == self.enabled:
            return []
        self.enabled = enabled
        if enabled:
            return [NoteOn(p, 100) for p in self.notes]
        return [NoteOff(p) for p in self.notes]

    def update(self, spectrum: PitchSpectrum, level_db: float, onset: bool, pitch: float, pitch_confidence: float,
               velocity_db: float | None = None) -> list[Command]:
        """One hop: the commands it implies (none while switched off)."""
        if self._gate:
            self._gate = level_db >= GATE_CLOSE_DB
        else:
            self._gate = level_db >= GATE_OPEN_DB
        if onset and self._gate:
            self._attack_at = 0
        elif self._attack_at is not None:
            self._attack_at += 1
        tonal = self._gate and spectrum.flatness <= MAX_FLATNESS
        scores = _TEMPLATE_MATRIX @ chroma(spectrum.energy) if tonal else None
        candidate: int | None = None
        if scores is not None:
            best = int(np.argmax(scores))
            if scores[best] >= ENTER:
                candidate = best
        velocity = velocity_of(level_db if velocity_db is None else velocity_db)
        current = self._current
        if current is not None and (scores is None or scores[current] < KEEP):
            self._failing += 1
            if self._failing >= RELEASE:
                return self._take(None, spectrum, pitch, pitch_confidence, velocity)
        else:
            self._failing = 0
        if candidate is None or candidate == current:
            self._pending, self._pending_hops = None, 0
            if candidate is not None and self._attack_at is not None and self._attack_at >= REATTACK:
                self._attack_at = None  # the same chord, struck again: its notes start again
                return self._take(candidate, spectrum, pitch, pitch_confidence, velocity)
            return []
        if candidate == self._pending:
            self._pending_hops += 1
        else:
            self._pending, self._pending_hops = candidate, 1
        if self._pending_hops >= CONFIRM:
            self._attack_at = None
            return self._take(candidate, spectrum, pitch, pitch_confidence, velocity)
        return []

    def _take(self, index: int | None, spectrum: PitchSpectrum, pitch: float, confidence: float,
              velocity: int) -> list[Command]:
        """Hold template `index` (None: nothing) from now; its notes start again even if held."""
        self._current, self._pending, self._pending_hops, self._failing = index, None, 0, 0
        notes = () if index is None else self._placed(TEMPLATES[index], spectrum.energy, pitch, confidence)
        self.chord = "" if index is None else TEMPLATES[index].name
        released = [p for p in self.notes if p not in notes]
        self.notes = notes
        if not self.enabled:
            return []
        return [NoteOff(p) for p in released] + [NoteOn(p, velocity) for p in notes]

    @staticmethod
    def _placed(template: Template, energy: np.ndarray, pitch: float, confidence: float) -> tuple[int, ...]:
        """Each pitch class of `template` in the octave where it is loudest (a single note: at
        aubio's pitch when that is confident and of the same class)."""
        if len(template.classes) == 1 and confidence >= PITCH_CONFIDENCE and LOW_PITCH - 12 <= pitch <= HIGH_PITCH:
            heard = int(round(pitch))
            if heard % 12 == template.classes[0]:
                return (heard,)
        notes = []
        for pitch_class in template.classes:
            first = (pitch_class - LOW_PITCH) % 12  # index of the lowest pitch of this class
            octaves = energy[first::12]
            notes.append(LOW_PITCH + first + 12 * int(np.argmax(octaves)))
        return tuple(sorted(notes))
