"""The synth engine's sound moves with the style blend."""

from __future__ import annotations

import numpy as np

from audio_analysis import spectral_centroid
from mrtd.conditioning import Conditioning
from mrtd.engines.synth import SynthEngine
from mrtd.style.embedder import BuiltinEmbedder
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import StyleSpace

SEEDS = (0, 1, 2)
FRAMES = 125  # 5 s per point; the first second is left out while the synth settles


def mean_centroid(embedding: np.ndarray, tokens: np.ndarray) -> float:
    """Spectral centroid (Hz) of the synth holding one style, averaged over a few seeds."""
    centroids = []
    for seed in SEEDS:
        engine = SynthEngine(seed=seed)
        conditioning = Conditioning(style_embedding=embedding.copy(), style_tokens=tokens.copy(), seed=seed)
        audio = np.concatenate([engine.step(conditioning) for _ in range(FRAMES)])
        centroids.append(spectral_centroid(audio[25 * 1920 :]))
    return float(np.mean(centroids))


def test_crossfading_dark_drone_to_bright_techno_brightens_the_sound_step_by_step():
    embedder = BuiltinEmbedder()
    space = StyleSpace(BuiltinQuantizer())
    space.set_prompt("drone", embedder.embed_text("dark ambient drone"), weight=1.0)
    space.set_prompt("techno", embedder.embed_text("bright fast techno"), weight=0.0)
    points = [tuple(a.copy() for a in space.advance())]
    space.crossfade_to({"techno": 1.0}, 4, "linear")
    for _ in range(4):
        points.append(tuple(a.copy() for a in space.advance()))
    assert space.quantize_count == 5
    centroids = [mean_centroid(embedding, tokens) for embedding, tokens in points]
    assert all(later > earlier for earlier, later in zip(centroids, centroids[1:])), f"centroids along the fade: {centroids}"
    assert centroids[-1] > 3 * centroids[0]


def test_a_frame_by_frame_crossfade_moves_the_running_synth():
    embedder = BuiltinEmbedder()
    space = StyleSpace(BuiltinQuantizer())
    space.set_prompt("drone", embedder.embed_text("dark ambient drone"), weight=1.0)
    space.set_prompt("techno", embedder.embed_text("bright fast techno"), weight=0.0)
    engine = SynthEngine(seed=0)

    def play(frames: int) -> np.ndarray:
        blocks = []
        for _ in range(frames):
            embedding, tokens = space.advance()
            blocks.append(engine.step(Conditioning(style_embedding=embedding, style_tokens=tokens)))
        return np.concatenate(blocks)

    before = play(100)[25 * 1920 :]
    space.crossfade_to({"techno": 1.0}, 50, "s-curve")  # 2 s fade, played live
    play(50)
    after = play(100)[25 * 1920 :]
    assert spectral_centroid(after) > 2 * spectral_centroid(before)
