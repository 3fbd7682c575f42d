"""Files a recording writes: created new (never over an old take, never through a symlink),
and a WAV whose header stays true while it grows.

A daemon killed with SIGKILL (or a power cut) never reaches `close()`. The
standard library's `wave` writes the sizes only there, so a 200 s take read
back as 0.01 s. `GrowingWav` rewrites the two sizes in place as the data
grows (from the sink's writer thread, about once a second), so after a kill
the file says how long it is, give or take the last second. A kill leaves
what was written to the system; a power cut loses what the system had not
put on the disk yet (Linux writes back after up to 30 s, and a new file's
name only with its folder): growing files are synced every SYNC_EVERY_S
(`PeriodicSync`), and their folder once when they are created. Past 4 GiB the
RIFF sizes overflow: the file becomes RF64 (EBU Tech 3306), which is why the
header reserves a JUNK chunk the size of RF64's ds64 chunk from the start.
"""

from __future__ import annotations

import os
import struct
import time
import unicodedata
from pathlib import Path

import numpy as np

from mrtd.frame import CHANNELS, SAMPLE_RATE

MAX_NAME_CHARS = 120  # a recording name; the file system allows 255 bytes with the suffix
MAX_NEW_NAMES = 1000  # take, take-2 ... take-1000, then refuse
HEADER_UPDATE_S = 1.0  # at most this much audio is missing from the header after a kill
SYNC_EVERY_S = 5.0  # at most this much of a take or a capture is lost to a power cut
_SAMPLE_BYTES = 2  # 16-bit PCM
_BLOCK_ALIGN = CHANNELS * _SAMPLE_BYTES
_RIFF_LIMIT = 0xFFFFFFFF
_HEADER = (
    b"RIFF" + struct.pack("<I", 0) + b"WAVE"
    + b"JUNK" + struct.pack("<I", 28) + bytes(28)  # room for ds64, should the file pass 4 GiB
    + b"fmt " + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE, SAMPLE_RATE * _BLOCK_ALIGN, _BLOCK_ALIGN, 16)
    + b"data" + struct.pack("<I", 0)
)
_RIFF_SIZE_AT, _DS64_AT, _DATA_SIZE_AT = 4, 12, len(_HEADER) - 4


def check_name(name: str) -> str:
    """`name` if it is a plain file name a person chose; ValueError saying why otherwise.

    Refused rather than flattened: `a/b` silently written as `b` (or into a
    folder `a`) is not what the sender asked for.
    """
    if not name:
        raise ValueError("a recording name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a recording name is at most {MAX_NAME_CHARS} characters, got {len(name)}")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValueError("a recording name cannot hold control characters")
    if "/" in name or "\\" in name:
        raise ValueError("a recording name cannot hold / or \\ (no folders, nothing outside the recording folder)")
    if name.startswith(".") or ".." in name:
        raise ValueError("a recording name cannot start with . or hold ..")
    return name


def create_new(path: Path) -> int:
    """Open `path` for writing only if nothing (not even a dangling symlink) is there yet; its
    folder is synced, so the new name survives a power cut."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        folder = os.open(Path(path).parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass  # a folder that cannot be synced (some network file systems): the file is still made
    return fd


class PeriodicSync:
    """Puts a growing file on the disk (fsync) at most every `every_s` seconds, and when asked:
    from its writer thread, never the generation thread (a sync can take milliseconds)."""

    def __init__(self, fd: int, clock=time.monotonic, every_s: float = SYNC_EVERY_S) -> None:
        self._fd = fd
        self._clock = clock
        self._every_s = every_s
        self._next = clock() + every_s

    def due(self) -> None:
        """Sync if `every_s` has passed since the last one (OSError if the disk refuses)."""
        if self._clock() >= self._next:
            self.now()

    def now(self) -> None:
        os.fsync(self._fd)
        self._next = self._clock() + self._every_s


def create_unused(path: Path) -> tuple[Path, int]:
    """Create `path`, or `stem-2.suffix`, `stem-3.suffix`... when taken; (path, fd).

    O_EXCL makes taking the name and creating the file one step, so two takes
    started at once cannot both get the same name, and nothing existing (a
    file, a symlink to one) is ever opened.
    """
    stem, suffix = path.stem, path.suffix
    for number in range(1, MAX_NEW_NAMES + 1):
        candidate = path if number == 1 else path.with_name(f"{stem}-{number}{suffix}")
        try:
            return candidate, create_new(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.name} and {MAX_NEW_NAMES - 1} numbered names after it are taken")


class GrowingWav:
    """16-bit stereo 48 kHz WAV on an open descriptor; the header follows the data."""

    def __init__(self, fd: int, clock=time.monotonic, update_s: float = HEADER_UPDATE_S) -> None:
        self._fd = fd
        self._clock = clock
        self._update_s = update_s
        self.data_bytes = 0
        self.header_bytes = 0  # data bytes the header on disk accounts for
        os.write(fd, _HEADER)
        self._next_update = clock() + update_s
        self._sync = PeriodicSync(fd, clock)

    @property
    def header_frames(self) -> int:
        return self.header_bytes // _BLOCK_ALIGN

    def write(self, block: np.ndarray) -> None:
        """Append float samples [n, 2] in [-1, 1] as 16-bit PCM (the writer thread's I/O)."""
        pcm = np.clip(np.rint(block * 32767.0), -32768, 32767).astype("<i2")
        view = memoryview(pcm.tobytes())
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            # A full disk (ENOSPC, EFBIG) mid-block: cut the part-block off, so the file ends on a
            # whole sample frame and the header close() writes describes it exactly.
            os.ftruncate(self._fd, len(_HEADER) + self.data_bytes)
            raise
        self.data_bytes += pcm.nbytes
        self.update_if_due()

    def update_if_due(self) -> None:
        """Rewrite the sizes if data came since the last time and `update_s` has passed."""
        if self.data_bytes != self.header_bytes and self._clock() >= self._next_update:
            self.update_header()

    def update_header(self) -> None:
        """Write the sizes for what has been written so far, in place."""
        data = self.data_bytes
        riff = len(_HEADER) - 8 + data
        if riff <= _RIFF_LIMIT:
            os.pwrite(self._fd, struct.pack("<I", riff), _RIFF_SIZE_AT)
            os.pwrite(self._fd, struct.pack("<I", data), _DATA_SIZE_AT)
        else:  # RF64: the 32-bit sizes say "see ds64", which holds the 64-bit ones
            os.pwrite(self._fd, b"RF64" + struct.pack("<I", _RIFF_LIMIT), 0)
            os.pwrite(self._fd, b"ds64" + struct.pack("<IQQQI", 28, riff, data, data // _BLOCK_ALIGN, 0), _DS64_AT)
            os.pwrite(self._fd, struct.pack("<I", _RIFF_LIMIT), _DATA_SIZE_AT)
        self.header_bytes = data
        self._next_update = self._clock() + self._update_s
        self._sync.due()

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.update_header()
            self._sync.now()
        finally:
            os.close(self._fd)
            self._fd = -1
