"""Audio files for tests and benchmarks: WAV headers that say what a test needs, and big sparse WAVs.

Imports nothing of mrtd, so a benchmark can run it against an older tree."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

BIG_BYTES = 250 * 1000 * 1000
RATE = 48_000


def wav_header(channels: int, width: int, rate: int, data_bytes: int, tag: int = 1) -> bytes:
    block = channels * width
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, 8 * width)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_bytes))


def tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * 330 * t) * (1 + np.sign(np.sin(2 * np.pi * 3 * t))) / 2  # bursts: density


def big_wav(path: Path, channels: int, width: int, total_bytes: int = BIG_BYTES, sound_s: float = 31.0) -> Path:
    """A valid WAV of `total_bytes`: `sound_s` of a tone, then silence left as a hole (sparse)."""
    samples = tone(sound_s)
    if width == 1:
        pcm = np.round(samples * 127 + 128).astype(np.uint8)
    else:
        pcm = np.round(samples * 32767).astype("<i2")
    frames = np.repeat(pcm[:, None], channels, axis=1).tobytes()
    data_bytes = total_bytes - 44
    with open(path, "wb") as file:
        file.write(wav_header(channels, width, RATE, data_bytes))
        file.write(frames)
        file.truncate(total_bytes)  # the rest is silence (zero bytes: for 8-bit a full-scale step, also fine)
    return path


def scene_with(folder: Path, audio: str) -> Path:
    path = folder / "big.yaml"
    path.write_text(f"name: big\nprompts:\n  take: {{audio: {audio}}}\n  words: warm pads\ncues:\n  - {{at: 0, mix: {{take: 1}}}}\n")
    return path
