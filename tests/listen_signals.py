"""Recorded-style signals the listening tests make: chords in sines and plucked tones, a melody,
click tracks, silence and noise; each with the sample where each event starts.

Deterministic (seeded), 48 kHz float32 stereo, a little below full scale, as an interface's
input is; and `analyse` runs them through `ListenAnalysis`, the analysis the daemon runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RATE = 48_000
PROGRESSION = (("C", (60, 64, 67)), ("F", (60, 65, 69)), ("G", (59, 62, 67)), ("C", (60, 64, 67)))  # C-F-G-C, close voicing
MELODY = (60, 62, 64, 65, 67, 65, 64, 62, 72, 60)


def hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def sine_tone(pitch: int, seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    tone = level * np.sin(2 * np.pi * hz(pitch) * t)
    fade = min(len(t) // 2, 240)  # 5 ms edges: a sine switched on at full level is a click
    tone[:fade] *= np.linspace(0.0, 1.0, fade)
    tone[len(t) - fade:] *= np.linspace(1.0, 0.0, fade)
    return tone


def plucked_tone(pitch: int, seconds: float, level: float = 0.3) -> np.ndarray:
    """A plucked string: harmonics at 1/k, the higher ones dying faster, and a short attack."""
    t = np.arange(round(seconds * RATE)) / RATE
    f0 = hz(pitch)
    tone = np.zeros_like(t)
    for k in range(1, 9):
        if k * f0 > RATE / 2.5:
            break
        tone += np.sin(2 * np.pi * k * f0 * t) / k * np.exp(-t * (1.2 + 1.5 * k))
    attack = min(len(t), 96)
    tone[:attack] *= np.linspace(0.0, 1.0, attack)
    return level * tone / 1.6


@dataclass
class Signal:
    audio: np.ndarray  # [n, 2] float32
    events: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (start sample, pitches sounding)


def stereo(mono: np.ndarray) -> np.ndarray:
    return np.repeat(mono.astype(np.float32)[:, None], 2, axis=1)


def progression(kind: str, beat_s: float = 0.5, beats_per_chord: int = 4, laps: int = 2,
                chords=PROGRESSION) -> Signal:
    """C-F-G-C, each chord struck on every beat (`plucked`) or held as sines for its bar (`sine`)."""
    pieces, events, at = [], [], 0
    for _ in range(laps):
        for _name, pitches in chords:
            events.append((at, pitches))
            if kind == "sine":
                length = beat_s * beats_per_chord
                piece = sum(sine_tone(p, length, 0.15) for p in pitches)
            else:
                piece = np.concatenate([sum(plucked_tone(p, beat_s, 0.25) for p in pitches) for _ in range(beats_per_chord)])
            pieces.append(piece)
            at += len(piece)
    return Signal(stereo(np.concatenate(pieces)), events)


def melody(beat_s: float = 0.4, kind: str = "plucked") -> Signal:
    pieces, events, at = [], [], 0
    for pitch in MELODY:
        piece = plucked_tone(pitch, beat_s, 0.4) if kind == "plucked" else sine_tone(pitch, beat_s, 0.3)
        events.append((at, (pitch,)))
        pieces.append(piece)
        at += len(piece)
    return Signal(stereo(np.concatenate(pieces)), events)


def clicks(bpm: float, seconds: float, accent: bool = True, start_s: float = 0.0) -> np.ndarray:
    """A metronome: a woodblock-like click each beat (4 ms decay: aubio's peak picker misses a
    click that is over within one 10 ms hop), the bar's first (of four) louder and higher."""
    n = round(seconds * RATE)
    out = np.zeros(n)
    k = np.arange(2400)
    beat, t = 0, start_s
    while t < seconds:
        i = round(t * RATE)
        downbeat = accent and beat % 4 == 0
        click = (0.8 if downbeat else 0.4) * np.exp(-k / 200.0) * np.sin(2 * np.pi * (2000.0 if downbeat else 1500.0) * k / RATE)
        end = min(n, i + len(k))
        out[i:end] += click[: end - i]
        beat += 1
        t = start_s + beat * 60.0 / bpm
    return out


def noise(seconds: float, level: float = 0.2, seed: int = 7) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(round(seconds * RATE))


def analyse(audio: np.ndarray, analysis=None, every_hop=None):
    """Feed `audio` [n] or [n, 2] through a ListenAnalysis hop by hop; returns (analysis,
    [(sample position after the hop, commands)]) for every hop that produced commands."""
    from mrtd.inputs.listen.analysis import ListenAnalysis

    if analysis is None:
        analysis = ListenAnalysis(RATE, lambda position: position / RATE)
        analysis.notes.enabled = True
        analysis.follow_tempo = True
    audio = np.asarray(audio, dtype=np.float32)
    hop = analysis.hop
    out = []
    for start in range(0, len(audio) - hop + 1, hop):
        commands = analysis.process(audio[start : start + hop])
        if every_hop is not None:
            every_hop(analysis, start + hop)
        if commands:
            out.append((start + hop, commands))
    return analysis, out
