"""Prompts move the built-in synth musically, measured on its own output (issue 17, partly done)."""

from __future__ import annotations

import numpy as np

from audio_analysis import swing_ratio
from mrtd.conditioning import Conditioning
from mrtd.engines.synth import SynthEngine
from mrtd.frame import FRAME_SAMPLES
from mrtd.style.embedder import BuiltinEmbedder

BPM = 120.0


def render(prompt: str, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    embedding = BuiltinEmbedder().embed_text(prompt)
    engine = SynthEngine(seed=seed)
    per_frame = BPM / 60.0 * 0.04
    frames = int(seconds * 25) + 25
    audio = [engine.step(Conditioning(style_embedding=embedding, bpm=BPM, beat=k * per_frame)) for k in range(frames)]
    return np.concatenate(audio)[25 * FRAME_SAMPLES :]


def test_jazz_swings_and_techno_plays_straight():
    jazz = swing_ratio(render("solo jazz piano trio, brushed drums"), BPM)
    techno = swing_ratio(render("distorted industrial techno, heavy kick"), BPM)
    assert jazz > 1.5, f"jazz off-beats should land near 2/3 of the beat (ratio ~2), got {jazz:.2f}"
    assert techno < 1.2, f"techno should be straight (ratio ~1), got {techno:.2f}"
