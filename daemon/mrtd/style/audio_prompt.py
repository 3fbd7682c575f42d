"""Audio prompts: reading an audio file, and the interface of embedders that take audio.

`Embedder` (mrtd.style.embedder) covers text. An embedder that can also embed
audio implements `AudioEmbedder` as well; callers check with
`isinstance(embedder, AudioEmbedder)`.

WAV (PCM 8/16/24/32-bit and 32-bit float) is read with the standard library;
other formats need the `soundfile` package, imported only when such a file
is opened.
"""

from __future__ import annotations

import hashlib
import os
import wave
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class AudioEmbedder(Protocol):
    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [768] for `samples` ([n] or [n, channels], float in [-1, 1]) at `sample_rate`."""
        ...


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: the cache key of an audio prompt (renaming it keeps the key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_audio_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(samples float32 [n, channels] in [-1, 1], sample_rate) of an audio file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio prompt file not found: {path}")
    if path.suffix.lower() in (".wav", ".wave"):
        try:
            return _read_wav(path)
        except (wave.Error, EOFError) as error:
            # Float or extensible WAVs that the wave module refuses: let soundfile try.
            try:
                return _read_with_soundfile(path)
            except ImportError:
                raise ValueError(f"{path}: {error} (install soundfile to read this WAV variant)") from error
    return _read_with_soundfile(path)


_PCM_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as reader:
        channels = reader.getnchannels()
        width = reader.getsampwidth()
        rate = reader.getframerate()
        raw = reader.readframes(reader.getnframes())
    if width == 3:  # 24-bit: widen each little-endian sample to 32 bits
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        widened = np.zeros((len(bytes3), 4), dtype=np.uint8)
        widened[:, 1:] = bytes3
        data = widened.view("<i4").reshape(-1).astype(np.float32) / 2.0**31
    elif width in _PCM_DTYPES:
        data = np.frombuffer(raw, dtype=np.dtype(_PCM_DTYPES[width]).newbyteorder("<")).astype(np.float32)
        if width == 1:
            data = (data - 128.0) / 128.0
        else:
            data /= float(2 ** (8 * width - 1))
    else:
        raise wave.Error(f"unsupported sample width {width} bytes")
    return data.reshape(-1, channels), rate


def _read_with_soundfile(path: Path) -> tuple[np.ndarray, int]:
    try:
        import soundfile
    except ImportError as error:
        raise ImportError(f"reading {path.suffix or 'this'} audio files needs the soundfile package (pip install soundfile); WAV works without it") from error
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data, int(rate)


MAX_AUDIO_PROMPT_BYTES = 256 * 1024 * 1024  # a longer file is not a style prompt


def probe_audio_file(path: str | os.PathLike) -> None:
    """Raise ValueError (one sentence, no file content) unless `path` is an audio file
    that `read_audio_file` will read: checked from its header, without decoding it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"audio file not found: {path.name}")
    if path.stat().st_size > MAX_AUDIO_PROMPT_BYTES:
        raise ValueError(f"audio file {path.name} is larger than {MAX_AUDIO_PROMPT_BYTES >> 20} MiB")
    if path.suffix.lower() in (".wav", ".wave"):
        try:
            with wave.open(str(path), "rb") as reader:
                if reader.getsampwidth() not in (1, 2, 3, 4) or reader.getnframes() == 0:
                    raise ValueError(f"audio file {path.name} has no samples this reader can use")
            return
        except (wave.Error, EOFError):
            pass  # float or extensible WAV: soundfile may read it
    try:
        import soundfile
    except ImportError:
        raise ValueError(f"audio file {path.name}: reading this kind of file needs the soundfile package") from None
    try:
        info = soundfile.info(str(path))
    except Exception:  # soundfile raises its own error types for anything unreadable
        raise ValueError(f"audio file {path.name} is not an audio file soundfile can read") from None
    if info.frames == 0:
        raise ValueError(f"audio file {path.name} has no samples")
