"""The files mrtd keeps in its state folder: written atomically, read with a bound (untrusted)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def read_at_most(path: Path, limit: int) -> bytes | None:
    """Up to `limit` + 1 bytes of `path` (one more than allowed, so the caller can tell a file that
    is too big), None when there is no such file; OSError when it cannot be read. The files mrtd
    keeps in its state folder are untrusted on the way back in: never read whole."""
    try:
        with open(path, "rb") as file:
            return file.read(limit + 1)
    except FileNotFoundError:
        return None


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write `text` (or bytes) to `path` so a crash or power cut leaves the old file or the new one
    whole: a temporary file beside it, fsync, rename, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(text.encode("utf-8") if isinstance(text, str) else text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
