"""The synth engine locks its rhythm to the musical clock (conditioning.bpm and conditioning.beat)."""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.conditioning import NOTE_SLOTS, Conditioning
from mrtd.engines.synth import SynthEngine
from mrtd.frame import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from mrtd.style.embedder import BuiltinEmbedder

HOP = 120  # 2.5 ms energy blocks
LOOK_BACK = 8  # compared with the 20 ms before
RISE = 2.5  # 8 dB above that: an attack


def clocked(frames: int, bpm: float, first_beat: float, style: str, jump_at: int | None = None, jump_to: float = 0.0):
    """Conditioning as ControlState makes it: the beat at each frame's start, advancing at `bpm`."""
    embedding = BuiltinEmbedder().embed_text(style)
    silent_notes = np.zeros(NOTE_SLOTS, dtype=np.int8)  # 0 silences the improviser: drums alone
    per_frame = bpm / 60.0 * FRAME_SECONDS
    sequence, beat = [], first_beat
    for k in range(frames):
        if k == jump_at:
            beat = jump_to
        sequence.append(Conditioning(style_embedding=embedding, notes=silent_notes, drums=1, bpm=bpm, beat=beat))
        beat += per_frame
    return sequence


def render(engine: SynthEngine, sequence: list[Conditioning]) -> np.ndarray:
    return np.concatenate([engine.step(c) for c in sequence])


def onsets(audio: np.ndarray) -> np.ndarray:
    """Onset times in samples: where the short-term energy jumps well above the last 20 ms.

    The signal is differenced first (a first-order high-pass), so a kick's slow pitch sweep
    and the tails of earlier hits do not read as new onsets; their attacks do.
    """
    bright = np.diff(audio.mean(axis=1))
    blocks = len(bright) // HOP
    energy = np.sqrt((bright[: blocks * HOP].reshape(blocks, HOP) ** 2).mean(axis=1))
    floor = 0.05 * energy.max()
    found: list[int] = []
    for i in range(LOOK_BACK, blocks):
        if energy[i] > floor and energy[i] > RISE * energy[i - LOOK_BACK : i].max():
            start = i * HOP
            if not found or start - found[-1] > 0.06 * SAMPLE_RATE:
                found.append(start + int(np.argmax(np.abs(bright[start : start + HOP]) > 0.5 * energy[i])))
    return np.array(found)


def beat_at(sequence: list[Conditioning], sample: float) -> float:
    """The beat at a sample, from the conditioning of the frame it lies in."""
    k = int(sample // FRAME_SAMPLES)
    c = sequence[k]
    return c.beat + (sample - k * FRAME_SAMPLES) / FRAME_SAMPLES * c.bpm / 60.0 * FRAME_SECONDS


@pytest.mark.parametrize("bpm,first_beat", [(120.0, 0.0), (97.0, 2.37), (152.0, 11.8)])
def test_drum_onsets_fall_on_the_beat_grid(bpm, first_beat):
    sequence = clocked(250, bpm, first_beat, "bright fast techno")
    audio = render(SynthEngine(seed=3), sequence)
    found = onsets(audio)[5:]  # past the first frames' warm-up
    assert len(found) > 20
    seconds_per_beat = 60.0 / bpm
    grid = 0.25  # sixteenths
    errors = []
    for sample in found:
        beat = beat_at(sequence, sample)
        errors.append(abs(beat - round(beat / grid) * grid) * seconds_per_beat)
    errors = np.array(errors)
    # Every onset on the grid within one frame; in fact within the detector's resolution.
    assert errors.max() < FRAME_SECONDS, np.round(errors * 1000, 1)
    assert np.median(errors) < 0.008
    # And the beats themselves are heard: a driving style hits (kick, hats) on nearly every one.
    # (Not every one is detected: an open hat still ringing can mask the next attack's rise.)
    beats_heard = [beat_at(sequence, sample) for sample in found]
    whole_beats = np.arange(np.ceil(beats_heard[0]), np.floor(beats_heard[-1]))
    on_time = [min(abs(b - beat) for b in beats_heard) * seconds_per_beat < FRAME_SECONDS for beat in whole_beats]
    assert np.mean(on_time) >= 0.8, f"{np.mean(on_time):.0%} of the beats have an onset within a frame"


def test_a_jump_of_the_clock_moves_the_grid_with_it():
    # Half-way, the clock jumps by a third of a beat (Tidal's cycle or a new Link session).
    sequence = clocked(250, 120.0, 0.0, "bright fast techno", jump_at=125, jump_to=0.0833 + 125 * 0.08)
    audio = render(SynthEngine(seed=1), sequence)
    later = [s for s in onsets(audio) if s > 127 * FRAME_SAMPLES]
    errors = [abs(b - round(b * 4) / 4) * 0.5 for b in (beat_at(sequence, s) for s in later)]
    assert len(later) > 10 and max(errors) < FRAME_SECONDS


def test_same_clocked_conditioning_gives_the_same_bytes_and_a_still_beat_free_runs():
    sequence = clocked(120, 126.0, 3.3, "deep house groove")
    one = render(SynthEngine(seed=5), sequence)
    two = render(SynthEngine(seed=5), sequence)
    assert one.tobytes() == two.tobytes()
    # A caller that never moves the beat (hand-made Conditioning) gets the same music: the
    # engine keeps time at `bpm` from the first frame's beat.
    still = [Conditioning(style_embedding=c.style_embedding, notes=c.notes, drums=1, bpm=126.0, beat=3.3) for c in sequence]
    three = render(SynthEngine(seed=5), still)
    # (Not byte-equal: the two ways of adding up the beat round differently, which can move a hit
    # by a sample.)
    heard, free = onsets(one), onsets(three)
    assert len(heard) > 10 and len(heard) == len(free) and np.abs(heard - free).max() <= 2
