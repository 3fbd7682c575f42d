"""Musical figures of the built-in synth for a published set of prompts (issue 17).

    .venv/bin/python benchmarks/synth_figures.py [--seconds S] [--png docs/synth_prompts.png]

Renders each prompt offline through the engine (drums left to the style, clock 120 BPM)
and prints tempo (onset autocorrelation), onsets/s, spectral centroid, low-band share,
harmonicity and swing ratio, as a Markdown table. With --png it also writes a spectrogram
of every prompt, one strip each, as a greyscale PNG (numpy and zlib only, no matplotlib).
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
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
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE  # noqa: E402
from mrtd.style.embedder import BuiltinEmbedder  # noqa: E402

from test_synth_prompts import PROMPT_SET  # noqa: E402  (the published set lives with its test)

PROMPTS = tuple(PROMPT_SET)


def render(prompt: str, seconds: float, bpm: float = 120.0, seed: int = 0) -> np.ndarray:
    """[n, 2] float32: `seconds` of the synth playing `prompt`, after a second to settle."""
    embedding = BuiltinEmbedder().embed_text(prompt)
    engine = SynthEngine(seed=seed)
    frames = int(seconds * 25) + 25
    per_frame = bpm / 60.0 * 0.04
    return np.concatenate([
        engine.step(Conditioning(style_embedding=embedding, bpm=bpm, beat=k * per_frame)) for k in range(frames)
    ])[25 * FRAME_SAMPLES :]  # the first second settles


def figures(prompt: str, seconds: float, bpm: float = 120.0, seed: int = 0) -> dict[str, float]:
    audio = render(prompt, seconds, bpm, seed)
    tempo, pulse = tempo_bpm(audio)
    return {
        "tempo": tempo, "pulse": pulse, "onsets/s": onset_density(audio),
        "centroid Hz": spectral_centroid(audio), "low-band": low_band_fraction(audio),
        "harmonicity": harmonicity(audio), "swing": swing_ratio(audio, bpm),
    }


def spectrogram_rows(audio: np.ndarray, height: int = 120, hop: int = 960) -> np.ndarray:
    """uint8 [height, frames]: log-frequency (40 Hz .. 16 kHz, low at the bottom), 60 dB range."""
    x = audio.mean(axis=1).astype(np.float64)
    size = 4096
    window = np.hanning(size)
    starts = range(0, len(x) - size, hop)
    power = np.abs(np.fft.rfft(np.stack([x[i : i + size] * window for i in starts]), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    edges = np.geomspace(40.0, 16000.0, height + 1)
    rows = np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) if np.any((freqs >= lo) & (freqs < hi))
                     else power[:, np.argmin(np.abs(freqs - lo))] for lo, hi in zip(edges[:-1], edges[1:])])
    db = 10 * np.log10(rows + 1e-12)
    db = np.clip((db - (db.max() - 60.0)) / 60.0, 0.0, 1.0)
    return (255 * (1.0 - db[::-1])).astype(np.uint8)  # dark = loud, like ink on paper


def write_png(path: str, image: np.ndarray) -> None:
    """A greyscale 8-bit PNG from uint8 [height, width]."""
    height, width = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                  + chunk(b"IEND", b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--png", help="also write a spectrogram of the set here")
    args = parser.parse_args()
    print("| prompt | tempo | pulse | onsets/s | centroid Hz | low-band | harmonicity | swing |")
    print("|---|---|---|---|---|---|---|---|")
    for prompt in PROMPTS:
        f = figures(prompt, args.seconds)
        print(f"| {prompt} | {f['tempo']:.0f} | {f['pulse']:.2f} | {f['onsets/s']:.1f} | {f['centroid Hz']:.0f} | "
              f"{f['low-band']:.3f} | {f['harmonicity']:.2f} | {f['swing']:.2f} |")
    if args.png:
        # One strip per prompt, in table order, 4 px of white between strips.
        strips = []
        for prompt in PROMPTS:
            strips.append(spectrogram_rows(render(prompt, args.seconds)))
            strips.append(np.full((4, strips[-1].shape[1]), 255, dtype=np.uint8))
        write_png(args.png, np.vstack(strips[:-1]))
        print(f"spectrograms of {len(PROMPTS)} prompts (top to bottom in table order) written to {args.png}")


if __name__ == "__main__":
    main()
