"""Audio prompts: reading an audio file, and the interface of embedders that take audio.

`Embedder` (mrtd.style.embedder) covers text. An embedder that can also embed
audio implements `AudioEmbedder` as well; callers check with
`isinstance(embedder, AudioEmbedder)`, and ask `audio_needs(embedder)` how much
of a file it uses.

How much of a file makes the prompt, for MusicCoCa (`AUDIO_PROMPT_READS`, the config's
`audio_prompt_read`): the official front ends differ, and mrtd offers both.
- "first" (the default), as the official apps and plugin read a prompt file
  (examples/mrt2/auv3/MagentaRT_AudioUnit.mm, the standalone, Jam and Collider apps): its
  first 10 s at 16 kHz mono, a shorter file repeated from its start until 10 s are full
  (sample i = sample i mod length); one clip, one embedding.
- "average", as the official Python library (magenta_rt/musiccoca.py, `embed`): every 10 s
  clip, the last zero-padded, embedded and averaged. The library reads the whole file; mrtd
  the first 30 s (3 clips) at most, so past 30 s its prompt is the file's opening 30 s.

A file is read only as far as its consumer needs (`AudioNeeds`: the first
seconds, at a rate, in a channel count), in blocks of about 1 MiB, each block
converted to float32, down-mixed and resampled before the next is read: a
250 MB WAV costs what 30 s of it cost, never the whole file and never float64
of it. The daemon reads files in a helper process (`style/audio_reader.py`), so
even that stays out of the process that plays.

WAV (PCM 8/16/24/32-bit, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE, RF64) is
parsed here, chunk by chunk; other formats need the `soundfile` package,
imported only when such a file is opened. `probe_audio_file` is the one check
of a file, from its header, that `mrtd check` and the daemon both run.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class AudioEmbedder(Protocol):
    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 [768] for `samples` ([n] or [n, channels], float in [-1, 1]) at `sample_rate`."""
        ...


@dataclass(frozen=True)
class AudioNeeds:
    """How much of a file a consumer uses: the first `seconds`, as `channels` (1: the mean of all;
    2: mono doubled, else the first two), at `rate` Hz (None: the file's own, at most MAX_NATIVE_RATE)."""

    seconds: float
    channels: int = 1
    rate: int | None = None


AUDIO_PROMPT_READS = ("first", "average")  # see the module's docstring
DEFAULT_AUDIO_PROMPT_READ = "first"  # as the official apps
MAX_AUDIO_PROMPT_BYTES = 256 * 1024 * 1024  # a longer file is not a style prompt
MAX_CHANNELS = 64  # WAV allows 65535; no recording a prompt comes from has more than a few dozen
MIN_RATE, MAX_RATE = 1_000, 384_000  # the rates a real recording has; a header outside them lies
MAX_NATIVE_RATE = 48_000  # a consumer that takes the file's rate gets at most this (more is inaudible detail)
PROMPT_SECONDS = 30.0  # no embedder uses more than the first 30 s of a prompt (see each embedder's needs)
DEFAULT_NEEDS = AudioNeeds(PROMPT_SECONDS)
BLOCK_BYTES = 1 << 20  # read and converted at a time
MAX_CHUNKS = 1000  # RIFF chunks looked at before `data`: a file of tiny chunks is not a CPU trap


def audio_needs(embedder: object) -> AudioNeeds:
    """What `embedder` reads of an audio file: its `audio_needs`, else the first 30 s, mono, native rate."""
    needs = getattr(embedder, "audio_needs", None)
    return needs if isinstance(needs, AudioNeeds) else DEFAULT_NEEDS


def audio_reading(embedder: object) -> str:
    """How `embedder` makes a prompt of a file: its `audio_read` ("first", "average"), "" if it has one way.
    Part of an audio prompt's cache key: the two readings of a file are two embeddings."""
    reading = getattr(embedder, "audio_read", "")
    return reading if isinstance(reading, str) else ""


def check_audio_prompt_read(reading: str) -> str:
    if reading not in AUDIO_PROMPT_READS:
        raise ValueError(f"audio_prompt_read is one of {', '.join(AUDIO_PROMPT_READS)}, got {reading!r}")
    return reading


@dataclass(frozen=True)
class AudioInfo:
    """What `probe_audio_file` learned from a file's header; `frames`: whole frames on disk."""

    rate: int
    channels: int
    frames: int
    warning: str | None = None  # a file that reads, with something the operator should know


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: the cache key of an audio prompt (renaming it keeps the key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_audio_file(path: str | os.PathLike, needs: AudioNeeds = DEFAULT_NEEDS) -> tuple[np.ndarray, int]:
    """(samples float32 [n, needs.channels] in [-1, 1], sample_rate): the first `needs.seconds` of
    an audio file, read block by block. ValueError (one sentence, no file content) if it cannot be."""
    path = Path(path)
    info, layout = _probe(path)
    in_frames = min(info.frames, math.ceil(needs.seconds * info.rate))
    out_rate = needs.rate or min(info.rate, MAX_NATIVE_RATE)
    collector = _Collector(in_frames, info.rate, out_rate, needs.channels)
    blocks = _wav_blocks(path, layout, in_frames) if layout is not None else _soundfile_blocks(path, info, in_frames)
    try:
        for block in blocks:
            collector.add(block)
    except OSError as exc:
        raise ValueError(f"audio file {path.name} cannot be read ({exc.strerror or type(exc).__name__})") from None
    return collector.finish(), out_rate


def probe_audio_file(path: str | os.PathLike) -> AudioInfo:
    """The one check of an audio file, from its header, without decoding it: `mrtd check`, a scene
    load and `/mrt/prefill` all run it. ValueError (one sentence, no file content) unless
    `read_audio_file` will read it; a file it reads with a caveat comes back with a `warning`."""
    return _probe(Path(path))[0]


@dataclass(frozen=True)
class _WavLayout:
    tag: int  # _PCM or _FLOAT
    channels: int
    rate: int
    width: int  # bytes per sample
    data_offset: int


_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_PLAIN_WIDTHS = {_PCM: (1, 2, 3, 4), _FLOAT: (4, 8)}


class _NotPlainWav(Exception):
    """A WAV whose samples this parser does not decode (ADPCM, mu-law...): soundfile may."""


def _probe(path: Path) -> tuple[AudioInfo, _WavLayout | None]:
    name = path.name
    if not path.is_file():
        raise ValueError(f"audio file not found: {name}")
    try:
        size = path.stat().st_size
        if size > MAX_AUDIO_PROMPT_BYTES:
            raise ValueError(f"audio file {name} is larger than {MAX_AUDIO_PROMPT_BYTES >> 20} MiB")
        if path.suffix.lower() in (".wav", ".wave"):
            try:
                with open(path, "rb") as file:
                    return _wav_info(file, size, name)
            except _NotPlainWav:
                pass  # a compressed WAV: soundfile may read it
    except OSError as exc:
        raise ValueError(f"audio file {name} cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        import soundfile
    except ImportError:
        raise ValueError(f"audio file {name}: reading this kind of file needs the soundfile package") from None
    try:
        found = soundfile.info(str(path))
    except Exception:  # soundfile raises its own error types for anything unreadable
        raise ValueError(f"audio file {name} is not an audio file soundfile can read") from None
    _check_shape(int(found.channels), int(found.samplerate), name)
    if found.frames <= 0:
        raise ValueError(f"audio file {name} has no samples")
    return AudioInfo(int(found.samplerate), int(found.channels), int(found.frames)), None


def _check_shape(channels: int, rate: int, name: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"audio file {name} has {channels} channels; 1 to {MAX_CHANNELS} are read")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"audio file {name} says its sample rate is {rate} Hz; {MIN_RATE} to {MAX_RATE} Hz are read")


def _wav_info(file: BinaryIO, size: int, name: str) -> tuple[AudioInfo, _WavLayout]:
    """Walk the RIFF chunks to `data`; how many whole frames the file holds, and whether its header agrees."""
    head = file.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise ValueError(f"audio file {name} is not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    rf64_data: int | None = None
    position = 12
    for _ in range(MAX_CHUNKS):
        file.seek(position)
        header = file.read(8)
        if len(header) < 8:
            break
        chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
        body = position + 8
        if chunk_id == b"ds64" and chunk_size >= 24:  # RF64: the real sizes, 64-bit
            rf64_data = struct.unpack("<Q", file.read(24)[8:16])[0]
        elif chunk_id == b"fmt ":
            fmt = file.read(min(chunk_size, 40))
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError(f"audio file {name}: its samples come before their format (no fmt chunk first)")
            layout = _layout(fmt, body, name)
            promised = rf64_data if rf64_data is not None and chunk_size == 0xFFFFFFFF else chunk_size
            return _frames_on_disk(layout, promised, max(0, size - body), name), layout
        position = body + chunk_size + (chunk_size & 1)
    raise ValueError(f"audio file {name} has no samples (no data chunk)")


def _layout(fmt: bytes, data_offset: int, name: str) -> _WavLayout:
    if len(fmt) < 16:
        raise ValueError(f"audio file {name}: its format chunk is too short")
    tag, channels, rate, _byte_rate, block_align, _bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:  # cbSize, valid bits, channel mask, then the sub-format's tag
        tag = struct.unpack("<H", fmt[24:26])[0]
    _check_shape(channels, rate, name)
    width = block_align // channels
    if tag not in _PLAIN_WIDTHS:
        raise _NotPlainWav
    if width not in _PLAIN_WIDTHS[tag] or block_align != width * channels:
        raise ValueError(f"audio file {name}: {block_align}-byte frames of {channels} channels are not a sample format this reader takes")
    return _WavLayout(tag, channels, rate, width, data_offset)


def _frames_on_disk(layout: _WavLayout, promised: int, present: int, name: str) -> AudioInfo:
    """Whole frames the file holds. The header's length is a promise the reader never trusts for
    how much to read: a recorder that crashed, or a copy cut short, leaves a header that promises
    more than the file holds. Such a file is read (what is there is good audio) with a warning,
    not refused: refusing would turn away every take of a crashed recorder, and since reading
    stops at the end of the file the lie costs nothing. A header that promises nothing (0: the
    size never written) reads to the end of the file, with a warning too."""
    block_align = layout.width * layout.channels
    on_disk = present // block_align
    frames = on_disk if promised == 0 else min(promised // block_align, on_disk)
    if frames == 0:
        raise ValueError(f"audio file {name} has no samples")
    warning = None
    if promised == 0:
        warning = f"audio file {name}: its header gives no length (a recorder stopped before writing it); reading the {on_disk / layout.rate:.1f} s it holds"
    elif promised > present:
        warning = (f"audio file {name} is cut short: its header promises {promised // block_align / layout.rate:.1f} s, "
                   f"the file holds {on_disk / layout.rate:.1f} s (a crashed recorder or an interrupted copy); reading what is there")
    return AudioInfo(layout.rate, layout.channels, frames, warning)


def _wav_blocks(path: Path, layout: _WavLayout, frames: int):
    block_align = layout.width * layout.channels
    per_block = max(1, BLOCK_BYTES // block_align)
    with open(path, "rb") as file:
        file.seek(layout.data_offset)
        left = frames
        while left > 0:
            raw = file.read(min(left, per_block) * block_align)
            whole = len(raw) // block_align
            if whole == 0:
                return  # shorter than probed (changed since): what was read is used
            yield _decode(raw[: whole * block_align], layout)
            left -= whole


def _decode(raw: bytes, layout: _WavLayout) -> np.ndarray:
    """One block of samples as float32 [frames, channels] in [-1, 1]."""
    width = layout.width
    if layout.tag == _FLOAT:
        data = np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
        np.nan_to_num(data, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(data, -1.0, 1.0, out=data)
    elif width == 1:  # unsigned 8-bit
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:  # 24-bit: widen each little-endian sample to 32 bits
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        widened = np.zeros((len(bytes3), 4), dtype=np.uint8)
        widened[:, 1:] = bytes3
        data = widened.view("<i4").reshape(-1).astype(np.float32) / np.float32(2.0**31)
    else:
        data = np.frombuffer(raw, dtype="<i2" if width == 2 else "<i4").astype(np.float32) / np.float32(2.0 ** (8 * width - 1))
    return data.reshape(-1, layout.channels)


def _soundfile_blocks(path: Path, info: AudioInfo, frames: int):
    import soundfile

    per_block = max(1, BLOCK_BYTES // (4 * info.channels))
    with soundfile.SoundFile(str(path)) as file:
        left = frames
        while left > 0:
            block = file.read(min(left, per_block), dtype="float32", always_2d=True)
            if len(block) == 0:
                return
            yield block
            left -= len(block)


class _Collector:
    """Blocks in, down-mixed and resampled as they come, into one buffer the size of what is kept."""

    def __init__(self, in_frames: int, in_rate: int, out_rate: int, channels: int) -> None:
        self.channels = channels
        self.buffer = np.zeros((round(in_frames * out_rate / in_rate), channels), dtype=np.float32)
        self.filled = 0
        self.stream = None
        if in_rate != out_rate:
            import soxr  # a declared dependency (the output resampler uses it too)

            # Streaming: soxr keeps its filter state between blocks, so the result is one signal.
            self.stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality="HQ")

    def add(self, block: np.ndarray) -> None:
        mixed = _mix(block, self.channels)
        if self.stream is not None:
            mixed = self.stream.resample_chunk(mixed)
        self._keep(mixed)

    def finish(self) -> np.ndarray:
        if self.stream is not None:
            self._keep(self.stream.resample_chunk(np.zeros((0, self.channels), dtype=np.float32), last=True))
        return self.buffer[: self.filled]

    def _keep(self, samples: np.ndarray) -> None:
        take = min(len(samples), len(self.buffer) - self.filled)
        self.buffer[self.filled : self.filled + take] = samples[:take]
        self.filled += take


def _mix(block: np.ndarray, channels: int) -> np.ndarray:
    """1: the mean of every channel; 2: mono doubled, else the first two (a WAV's front left/right)."""
    if channels == 1:
        mono = block if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32, keepdims=True)
        return np.ascontiguousarray(mono, dtype=np.float32)
    if block.shape[1] == 1:
        return np.repeat(block, 2, axis=1)
    return np.ascontiguousarray(block[:, :2], dtype=np.float32)
