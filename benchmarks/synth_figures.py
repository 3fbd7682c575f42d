"""Musical figures of the built-in synth for a published set of prompts (issue 17).

    .venv/bin/python benchmarks/synth_figures.py [--seconds S]

Renders each prompt offline through the engine (drums left to the style, clock 120 BPM)
and prints tempo (onset autocorrelation), onsets/s, spectral centroid, low-band share,
harmonicity and swing ratio, as a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(root / "daemon"))
sys.path.insert(0, str(root / "tests"))

import numpy as np  # noqa: E402

from audio_analysis import (  # noqa: E402
    harmonicity, low_band_fraction, onset_density, spectral_centroid, swing_ratio, tempo_bpm,
)
from mrtd.conditioning import Conditioning  # noqa: E402
from mrtd.engines.synth import SynthEngine  # noqa: E402
from mrtd.frame import FRAME_SAMPLES  # noqa: E402
from mrtd.style.embedder import BuiltinEmbedder  # noqa: E402

PROMPTS = (
    "distorted industrial techno, heavy kick",
    "deep house groove, warm chords",
    "solo jazz piano trio, brushed drums",
    "deep dark ambient drone",
    "breakbeat jungle, fast amen breaks",
    "lofi hiphop beats, mellow",
    "bright glitter bells, high sparkling synth",
    "slow sad cello, bowed strings",
    "plucked acoustic guitar folk",
    "church organ hymn",
    "funky slap bass groove",
    "distorted lead guitar metal",
    "warm analog pad, cinematic",
)


def figures(prompt: str, seconds: float, bpm: float = 120.0) -> dict[str, float]:
    embedding = BuiltinEmbedder().embed_text(prompt)
    engine = SynthEngine(seed=0)
    frames = int(seconds * 25) + 25
    per_frame = bpm / 60.0 * 0.04
    audio = np.concatenate([
        engine.step(Conditioning(style_embedding=embedding, bpm=bpm, beat=k * per_frame)) for k in range(frames)
    ])[25 * FRAME_SAMPLES :]  # the first second settles
    tempo, pulse = tempo_bpm(audio)
    return {
        "tempo": tempo, "pulse": pulse, "onsets/s": onset_density(audio),
        "centroid Hz": spectral_centroid(audio), "low-band": low_band_fraction(audio),
        "harmonicity": harmonicity(audio), "swing": swing_ratio(audio, bpm),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    print("| prompt | tempo | pulse | onsets/s | centroid Hz | low-band | harmonicity | swing |")
    print("|---|---|---|---|---|---|---|---|")
    for prompt in PROMPTS:
        f = figures(prompt, args.seconds)
        print(f"| {prompt} | {f['tempo']:.0f} | {f['pulse']:.2f} | {f['onsets/s']:.1f} | {f['centroid Hz']:.0f} | "
              f"{f['low-band']:.3f} | {f['harmonicity']:.2f} | {f['swing']:.2f} |")


if __name__ == "__main__":
    main()
