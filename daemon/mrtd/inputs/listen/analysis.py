"""One 10 ms hop at a time: level, onsets and pitch (aubio), the pitch spectrum, notes and tempo.

`ListenAnalysis.process(block)` is the whole analysis of one hop and returns the
commands it implies; the analysis thread (follower.py) calls it for each hop it
reads from the capture, and the tests call it with generated signals, so what
they measure is what plays. It allocates a little (numpy's FFT, the commands):
it never runs in an audio callback.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from mrtd.control.commands import AlignBeat, Command, SetParam
from mrtd.inputs.listen.library import import_aubio
from mrtd.inputs.listen.notes import GATE_CLOSE_DB, NoteFollower, PitchSpectrum
from mrtd.inputs.listen.tempo import TempoFollower

HOPS_PER_SECOND = 100  # 10 ms hops: four to a 40 ms frame
WINDOW_S = 0.17  # the pitch spectrum's window: 8192 samples at 48 kHz, a semitone resolved from E2 up
ONSET_METHOD = "kl"  # aubio's Kullback-Leibler onset function: clean on plucked chords, held sines and clicks (measured)
ONSET_THRESHOLD = 0.4
ONSET_SILENCE_DB = -90.0
MIN_ONSET_GAP_MS = 60.0  # two attacks closer than this are one


def _power_of_two(samples: float) -> int:
    return 1 << max(8, round(math.log2(samples)))


class ListenAnalysis:
    """The analysis of one input at `sample_rate`. `wall_time(position)` says when input sample
    `position` (counted from the first sample processed) was heard, in epoch seconds."""

    def __init__(self, sample_rate: int, wall_time: Callable[[int], float]) -> None:
        aubio = import_aubio()
        self.sample_rate = int(sample_rate)
        self.hop = self.sample_rate // HOPS_PER_SECOND
        self._wall_time = wall_time
        window = _power_of_two(WINDOW_S * sample_rate)
        self._history = np.zeros(window, dtype=np.float32)  # the last `window` mono samples
        self._mono = np.zeros(self.hop, dtype=np.float32)
        self._onset = aubio.onset(ONSET_METHOD, _power_of_two(sample_rate / 47.0), self.hop, self.sample_rate)
        self._onset.set_threshold(ONSET_THRESHOLD)
        # aubio judges silence on the hop it reports an onset in, some hops after the attack: a
        # click 30 ms long was gone by then and never reported. The notes have their own gate.
        self._onset.set_silence(ONSET_SILENCE_DB)
        self._onset.set_minioi_ms(MIN_ONSET_GAP_MS)
        self._pitch = aubio.pitch("yinfft", _power_of_two(sample_rate / 12.0), self.hop, self.sample_rate)
        self._pitch.set_unit("midi")
        self._pitch.set_silence(GATE_CLOSE_DB)
        self.spectrum = PitchSpectrum(self.sample_rate, window)
        self.notes = NoteFollower()
        self.tempo = TempoFollower(self.sample_rate / self.hop)
        self.follow_tempo = False  # whether tempo and beat commands go out (estimated either way)
        self.meter = 4  # beats per bar: the daemon's, handed in by the follower
        self.position = 0  # samples processed
        self.level_db = -120.0  # the last hop's level
        self.onsets = 0

    def process(self, block: np.ndarray) -> list[Command]:
        """One hop: `block` [hop] or [hop, channels] float32 in [-1, 1]. The commands it implies."""
        mono = self._mono
        if block.ndim == 2:
            np.mean(block, axis=1, out=mono)
        else:
            mono[:] = block
        history = self._history
        history[: -self.hop] = history[self.hop :]
        history[-self.hop :] = mono
        power = float(np.dot(mono, mono)) / self.hop
        self.level_db = 10.0 * math.log10(power) if power > 1e-12 else -120.0
        onset = bool(self._onset(mono)[0])
        strength = float(self._onset.get_descriptor())
        onset_at = self._onset.get_last() / self.hop if onset else None
        self.onsets += onset
        pitch = float(self._pitch(mono)[0])
        confidence = float(self._pitch.get_confidence())
        self.spectrum.measure(history)
        commands = self.notes.update(self.spectrum, self.level_db, onset, pitch, confidence)
        beat = self.tempo.update(strength, math.sqrt(power), onset_at, self.meter)
        if beat is not None and self.follow_tempo:
            commands += self._tempo_commands(beat.bpm, beat.at_hop, beat.beat_in_bar)
        self.position += self.hop
        return commands

    def _tempo_commands(self, bpm: float, at_hop: float, beat_in_bar: int | None) -> list[Command]:
        commands: list[Command] = []
        send = self.tempo.tempo_to_send()
        if send is not None:
            commands.append(SetParam.checked("tempo", send))
        at = self._wall_time(round(at_hop * self.hop))
        if beat_in_bar is None:  # a beat, no bar: align the phase within the beat only
            commands.append(AlignBeat(0.0, at, bpm, modulo=1.0))
        else:
            commands.append(AlignBeat(float(beat_in_bar), at, bpm, modulo=float(self.meter)))
        return commands

    def switch_tempo(self, enabled: bool) -> None:
        """Tempo following on or off; on again, the tempo is sent at the next estimate."""
        if enabled and not self.follow_tempo:
            self.tempo.sent_bpm = None
        self.follow_tempo = enabled
