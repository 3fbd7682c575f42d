"""The synth's samples, byte for byte: a fixed, varied session renders to one recorded digest.

The session walks every part of the engine: prompts that pick each rhythm family, kit and
instrument voice (patterns, wavetables and drum samples), chords, bass lines, melody and free
time (the composer), held notes, re-struck onsets and more notes than voices (the voice bank),
and the echo, AGC and limiter after them (the output stage); with temperature, top-k, the
guidance weights, drums on/off/auto, a new seed, tempo changes, clock jumps, a free-running
clock and a reset in the middle. Every line of the engine's frame path runs in it (traced) but
three: an allocation failure for held notes that cannot happen (at most 12 are asked for), a
free-time note that finds no pitch, and the guard against a NaN mix. A refactoring of the engine must keep this digest; a change
that means to alter the sound re-records it (and says so in its commit).
"""

from __future__ import annotations

import hashlib
from typing import Iterator

import numpy as np

from mrtd.conditioning import (
    DRUMS_AUTO,
    DRUMS_OFF,
    DRUMS_ON,
    NOTE_HELD,
    NOTE_OFF,
    NOTE_ON_MODEL,
    NOTE_ONSET,
    NOTE_SLOTS,
    Conditioning,
)
from mrtd.engines.synth import SynthEngine
from mrtd.frame import FRAME_SECONDS
from mrtd.style.embedder import BuiltinEmbedder

# Recorded from the pre-split engine (daemon/mrtd/engines/synth.py at commit 4d67aaf, loaded from
# git as benchmarks/bench_synth.py --against does) on x86_64 with numpy 2.3.5; the same with
# numpy's AVX2 and AVX-512 kernels switched off (NPY_DISABLE_CPU_FEATURES), so it does not depend
# on the CPU's vector units. A deliberate change of the synth's sound must re-record it (the
# failure prints the new digest) and say so in its commit.
GOLDEN_SHA256 = "2c3cb9ca87461651bbc9cdf61b522de7a0b448067fbf1b3e973b23f08637ee91"

# (frames, prompt, bpm, temperature, top_k, drums, cfg_drums, cfg_style): each segment's
# prompt picks a different family, kit and voice; the sampling settings vary across them.
SEGMENTS: tuple[tuple[int, str, float, float, int, int, float, float], ...] = (
    (60, "", 120.0, 1.1, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "distorted industrial techno, heavy kick", 132.0, 1.1, 50, DRUMS_ON, 4.0, 1.6),
    (60, "deep house groove, warm chords", 124.0, 0.0, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "solo jazz piano trio, brushed drums", 150.0, 1.4, 8, DRUMS_AUTO, 2.0, 1.6),
    (80, "ambient drone, dense glitter bells", 70.0, 1.1, 50, DRUMS_AUTO, 4.0, 2.2),  # free time
    (60, "breakbeat jungle, fast amen breaks", 170.0, 1.1, 1, DRUMS_ON, 6.0, 1.6),
    (60, "lofi hiphop beats, mellow", 88.0, 0.7, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "bright glitter bells, high sparkling synth", 120.0, 2.5, 200, DRUMS_OFF, 4.0, 3.0),
    (60, "slow sad cello, bowed strings", 66.0, 1.1, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "plucked acoustic guitar folk", 110.0, 1.1, 3, DRUMS_ON, 1.0, 1.6),
    (60, "church organ hymn", 80.0, 0.04, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "funky slap bass groove", 104.0, 1.1, 50, DRUMS_AUTO, 4.0, 1.6),
    (60, "distorted lead guitar metal", 180.0, 1.1, 50, DRUMS_ON, 4.0, 1.6),
    (60, "warm analog pad, cinematic", 90.0, 1.1, 50, DRUMS_OFF, 0.0, -0.5),
)
SEED_CHANGE_AT = 300  # a new conditioning seed reseeds the improviser
FREE_RUNNING = range(340, 370)  # the clock stands still (under a beat): the pulse runs on at its bpm
# A reset while the clock stands and the drums ring: the style is taken at once (no glide), and
# the voices, the ringing hits, the echo and the pulse all start over (leaving any one of them
# out of the reset changes the digest).
RESET_AT = 355
CLOCK_JUMP_AT = 640  # a jump of the musical clock (a transport start): the steps resync


def notes_for(frame: int) -> np.ndarray:
    """Improvised stretches, a held chord with re-strikes and a model-articulated note, a
    fourteen-note cluster (more notes than voices), silenced slots, and the bass range alone."""
    notes = np.full(NOTE_SLOTS, -1, dtype=np.int8)
    phase = frame % 120
    if 40 <= phase < 70:
        notes[[48, 55, 60, 64]] = NOTE_ONSET if phase in (40, 55) else NOTE_HELD
        notes[67] = NOTE_ON_MODEL
    elif 70 <= phase < 80 and frame // 120 % 2 == 1:
        notes[np.arange(50, 78, 2)] = NOTE_HELD
    elif 95 <= phase < 110:
        notes[48:60] = NOTE_OFF  # the improviser may not play there (chords move up or thin out)
    elif phase >= 110:
        notes[41:] = NOTE_OFF  # only the bass has room: the melody finds no pitch
    return notes


def session() -> Iterator[Conditioning]:
    embedder = BuiltinEmbedder()
    beat = 0.0
    frame = 0
    for frames, prompt, bpm, temperature, top_k, drums, cfg_drums, cfg_style in SEGMENTS:
        embedding = embedder.embed_text(prompt)
        for _ in range(frames):
            if frame == CLOCK_JUMP_AT:
                beat = 2.37
            yield Conditioning(
                style_embedding=embedding,
                notes=notes_for(frame),
                drums=drums,
                cfg_style=cfg_style,
                cfg_notes=4.0 if frame % 240 < 120 else 1.2,
                cfg_drums=cfg_drums,
                temperature=temperature,
                top_k=top_k,
                seed=7 if frame >= SEED_CHANGE_AT else 0,
                reset=frame == RESET_AT,
                bpm=bpm,
                beat=beat,
            )
            if frame not in FREE_RUNNING:
                beat += bpm / 60.0 * FRAME_SECONDS
            frame += 1


def session_digest() -> str:
    engine = SynthEngine(seed=11)
    digest = hashlib.sha256()
    for conditioning in session():
        digest.update(engine.step(conditioning).tobytes())
    return digest.hexdigest()


def test_a_fixed_session_renders_the_recorded_samples():
    digest = session_digest()
    assert digest == GOLDEN_SHA256, f"the synth's samples changed: this session now renders to {digest}"
