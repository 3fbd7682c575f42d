"""Sinks that take a copy of the music: WAV/FLAC recordings and raw PCM pipes (Snapcast, ffmpeg).

Each sink has its own buffer (a preallocated SPSC ring, 48 kHz stereo) and
its own writer thread. The producer (the generation thread, or a paced
output's thread when the sink is the clock master) only copies into the
ring and never waits: when the ring is full because the disk is slow or the
pipe's reader has stalled, the block is dropped and counted. The device, on
its own ring, is never held up by a sink.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import stat
import sys
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

import numpy as np

from mrtd.frame import CHANNELS, SAMPLE_RATE
from mrtd.audio.wavfile import GrowingWav, create_unused
from mrtd.audio.ring import Ring
from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

BUFFER_SECONDS = 2.0  # how long a sink may fall behind before it drops
CHUNK_SAMPLES = 2048  # what the writer thread takes from the ring at a time
STOP_DRAIN_SECONDS = 2.0  # on stop, how long a sink may take to write what it has buffered (< STOP_TIMEOUT_S)
PIPE_FORMATS = {"s16le": 2, "f32le": 4}  # bytes per sample


class SinkError(RuntimeError):
    """The sink cannot be opened; the message says why in one line."""


class TakeEnded(RuntimeError):
    """A take ended by itself (its disk's free-space floor, its maximum length); says why in one line."""


FREE_CHECK_S = 1.0  # how often a take looks at its disk's free space (one fstatvfs, on the writer thread)


def free_bytes(fd: int) -> int:
    """Bytes an unprivileged writer may still use on the file system holding `fd`."""
    info = os.fstatvfs(fd)
    return info.f_bavail * info.f_frsize


class Destination(ABC):
    """Where a sink's bytes go. Runs on the sink's writer thread only."""

    def open(self, stopping: threading.Event) -> bool:
        """Get ready to write (may wait, e.g. for a FIFO's reader); False if stopped first."""
        return True

    @abstractmethod
    def write(self, block: np.ndarray, stopping: threading.Event, deadline: float | None) -> bool:
        """Write a [n, 2] float32 block; False if it gave up (stopped while stalled)."""

    def idle(self) -> None:
        """Nothing to write just now (the writer thread; e.g. bring a header up to date)."""

    def close(self) -> None:
        pass


def _create_unused(path: str) -> tuple[str, int]:
    """Create `path` (or the first free `stem-N` beside it) without following a symlink."""
    try:
        created, fd = create_unused(Path(path))
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if str(created) != path:
        log.warning("%s already exists; writing %s instead (a take is never overwritten)", path, created)
    return str(created), fd


class WavDestination(Destination):
    """16-bit stereo WAV at 48 kHz, its header kept up to date as it grows (audio/wavfile.py).

    The file is always new: an existing file or symlink at `path` makes it pick
    `stem-2.wav` and so on; `path` then says which it wrote.

    `min_free_bytes`: the take ends (TakeEnded) when its disk has less free than this, checked
    every FREE_CHECK_S, and none starts below it, so a take left running never takes the room
    the journal and the system need. `max_seconds`: the take ends by itself at this length.
    A full disk (ENOSPC) ends it too; either way the header is patched, so the file is valid.
    """

    def __init__(self, path: str, min_free_bytes: int = 0, max_seconds: float | None = None,
                 free: Callable[[int], int] = free_bytes, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, fd = _create_unused(path)  # fail now, on the caller's thread
        self._free, self._clock, self._min_free = free, clock, min_free_bytes
        self._max_bytes = None if max_seconds is None else round(max_seconds * SAMPLE_RATE) * CHANNELS * 2
        self._max_seconds = max_seconds
        try:
            short = self._below_floor(fd)
            if short:
                raise SinkError(short)
            self._file = GrowingWav(fd)
        except (OSError, SinkError) as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # nothing of the take was written: leave no empty file
            if isinstance(exc, SinkError):
                raise
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._fd = fd
        self._next_free_check = clock() + FREE_CHECK_S

    def _below_floor(self, fd: int) -> str:
        if self._min_free <= 0:
            return ""
        left = self._free(fd)
        if left >= self._min_free:
            return ""
        return (f"only {left / 1e6:.0f} MB free on the recordings' disk, under the floor of "
                f"{self._min_free / 1e6:.0f} MB (record_min_free_mb)")

    def write(self, block: np.ndarray, stopping: threading.Event, deadline: float | None) -> bool:
        if self._max_bytes is not None:
            room = (self._max_bytes - self._file.data_bytes) // (CHANNELS * 2)
            if room < len(block):
                self._file.write(block[:room])
                raise TakeEnded(f"reached its maximum length of {self._max_seconds:g} s (record_max_s)")
        self._file.write(block)
        if self._clock() >= self._next_free_check:
            self._next_free_check = self._clock() + FREE_CHECK_S
            short = self._below_floor(self._fd)
            if short:
                raise TakeEnded(f"stopped: {short}")
        return True

    def idle(self) -> None:
        self._file.update_if_due()

    def close(self) -> None:
        self._file.close()


class FlacDestination(Destination):
    """24-bit stereo FLAC at 48 kHz, through the optional `soundfile` package; always a new file."""

    def __init__(self, path: str) -> None:
        try:
            import soundfile
        except (ImportError, OSError) as exc:  # OSError: the package is there but libsndfile is not
            raise SinkError(f"FLAC recording needs the soundfile package (pip install 'mrtd[flac]'): {exc}") from exc
        self.path, fd = _create_unused(path)
        try:
            self._file = soundfile.SoundFile(fd, "w", SAMPLE_RATE, CHANNELS, subtype="PCM_24", format="FLAC", closefd=True)
        except (RuntimeError, OSError) as exc:  # soundfile reports unwritable paths as RuntimeError
            os.close(fd)
            raise SinkError(f"cannot write {self.path}: {exc}") from exc

    def write(self, block: np.ndarray, stopping: threading.Event, deadline: float | None) -> bool:
        self._file.write(np.clip(block, -1.0, 1.0))
        return True

    def close(self) -> None:
        self._file.close()


class PipeDestination(Destination):
    """Raw interleaved PCM (s16le or f32le, 48 kHz stereo) to stdout, a FIFO or a file.

    Writes wait on `select` and go out at most PIPE_BUF bytes at a time, so a pipe
    write never blocks for long: a stalled reader leaves the writer polling, able
    to stop, while the ring in front of it fills and drops.
    """

    def __init__(self, path: str, sample_format: str = "s16le") -> None:
        if sample_format not in PIPE_FORMATS:
            raise SinkError(f"unknown pipe format {sample_format!r}; use s16le or f32le")
        self.path = path
        self.sample_format = sample_format
        self._fd: int | None = None
        self._owns_fd = path != "-"
        self._is_fifo = False
        if path == "-":
            self._fd = sys.stdout.fileno()
        else:
            try:
                self._is_fifo = stat.S_ISFIFO(os.stat(path).st_mode)
            except FileNotFoundError:
                self._is_fifo = False
            except OSError as exc:
                raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
            if not self._is_fifo:  # a plain file: open it now, so a bad path fails at once
                try:
                    self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                except OSError as exc:
                    raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def open(self, stopping: threading.Event) -> bool:
        # Opening a FIFO for writing blocks until a reader opens it; open it non-blocking
        # and retry instead, so a FIFO nobody reads yet does not hang the writer thread.
        while self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                if stopping.wait(0.1):
                    return False
        return True

    def write(self, block: np.ndarray, stopping: threading.Event, deadline: float | None) -> bool:
        assert self._fd is not None
        if self.sample_format == "s16le":
            data = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2").tobytes()
        else:
            data = np.ascontiguousarray(block, dtype="<f4").tobytes()
        view = memoryview(data)
        while view:
            if deadline is not None and time.monotonic() > deadline:
                return False
            _, writable, _ = select.select([], [self._fd], [], 0.1)
            if not writable:
                continue
            try:
                sent = os.write(self._fd, view[: select.PIPE_BUF])
            except BlockingIOError:
                continue
            view = view[sent:]
        return True

    def close(self) -> None:
        if self._fd is not None and self._owns_fd:
            os.close(self._fd)
        elif self._fd is not None:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
        self._fd = None


class SinkWriter:
    """One sink: a ring the producer copies into without waiting, drained by a writer thread."""

    def __init__(self, name: str, destination: Destination, buffer_seconds: float = BUFFER_SECONDS) -> None:
        self.name = name
        self.destination = destination
        self._ring = Ring(int(buffer_seconds * SAMPLE_RATE))
        self._chunk = np.zeros((CHUNK_SAMPLES, CHANNELS), dtype=np.float32)
        self._wake = threading.Event()
        self._writer = Worker(f"mrtd-sink-{name}", self._run, wake=self._wake.set)
        self._stopping = self._writer.stopping  # also what the destination's waits end on
        self._accepting = False
        # Counters, read by status() from any thread.
        self.written_samples = 0
        self.dropped_samples = 0
        self.dropped_blocks = 0
        self.error = ""

    def describe(self) -> str:
        return self.name

    def start(self) -> None:
        self._accepting = True
        self._writer.start()

    def offer(self, block: np.ndarray) -> None:
        """Producer thread: copy `block` [n, 2] in, or drop it whole and count it. Never waits."""
        n = len(block)
        if self._stopping.is_set():
            return  # shutting down: not a drop
        if not self._accepting or self._ring.space() < n:
            self.dropped_samples += n
            self.dropped_blocks += 1
            return
        self._ring.write(block)
        self._wake.set()

    def stop(self) -> None:
        """Write out what is buffered (for at most STOP_DRAIN_SECONDS), then close; a writer
        stuck past the stop bound is left behind, and named in the log."""
        self._accepting = False
        self._writer.stop()

    def _run(self) -> None:
        destination, ring, chunk = self.destination, self._ring, self._chunk
        try:
            if not destination.open(self._stopping):
                return
            deadline: float | None = None
            while True:
                got = ring.read_into(chunk, CHUNK_SAMPLES)
                if got:
                    if self._stopping.is_set() and deadline is None:
                        deadline = time.monotonic() + STOP_DRAIN_SECONDS
                    if not destination.write(chunk[:got], self._stopping, deadline):
                        return  # stopped while the destination was stalled
                    self.written_samples += got
                    continue
                if self._stopping.is_set():
                    return
                destination.idle()
                self._wake.wait(0.05)
                self._wake.clear()
        except (OSError, RuntimeError) as exc:  # a reader that went away, a full disk, a take's limit
            self._accepting = False
            self.error = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
            if isinstance(exc, TakeEnded):
                log.warning("sink %s %s", self.name, self.error)
            else:
                log.warning("sink %s stopped: %s (later audio is dropped and counted)", self.name, self.error)
        finally:
            try:
                destination.close()
            except OSError as exc:
                log.warning("sink %s: closing failed: %s", self.name, exc)


def open_sink(spec: str) -> SinkWriter:
    """A sink from `wav:PATH | flac:PATH | pipe:[s16le:|f32le:]PATH` (PATH `-` is stdout)."""
    kind, _, rest = spec.partition(":")
    if kind == "wav" and rest:
        wav = WavDestination(rest)
        return SinkWriter(f"wav:{wav.path}", wav)  # the name says which file, should it differ
    if kind == "flac" and rest:
        flac = FlacDestination(rest)
        return SinkWriter(f"flac:{flac.path}", flac)
    if kind == "pipe" and rest:
        sample_format, _, path = rest.partition(":")
        if sample_format not in PIPE_FORMATS or not path:
            sample_format, path = "s16le", rest
        return SinkWriter(spec, PipeDestination(path, sample_format))
    raise SinkError(f"unknown sink {spec!r}; use wav:PATH, flac:PATH or pipe:[s16le:|f32le:]PATH")


def is_sink_spec(spec: str) -> bool:
    return spec.split(":", 1)[0] in ("wav", "flac", "pipe")
