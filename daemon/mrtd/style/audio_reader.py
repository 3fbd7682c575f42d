"""Audio files read in a helper process, so the daemon never holds a file's decode.

`read_audio_file` (style/audio_prompt.py) already reads only the first seconds
its consumer needs, block by block. Run in the daemon, even that shares the GIL
with the generation thread and leaves its peak in the daemon's memory. Here it
runs in a warm `HelperProcess` (helper_process.py), as scene parsing and the
prefill encode do: bounded in address space (`MEMORY_LIMIT`: past it the child
dies, the request is refused with one line and the next starts a new child) and
in time (`TIMEOUT_S`). Only the kept samples come back (base64 float32 in the
JSON reply): 30 s of 16 kHz mono for MusicCoCa is 1.9 MB, 28 s of 48 kHz stereo
for prefill 10.8 MB, whatever the file's size.
"""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from mrtd.helper_process import HelperFailed, HelperProcess, HelperTimeout, serve
from mrtd.style.audio_prompt import AudioNeeds, read_audio_file

TIMEOUT_S = 30.0  # 30 s of a 256 MiB file at any rate reads in well under a second
MEMORY_LIMIT = 1 << 30  # the child's address space; reading 30 s of the worst file allowed needs ~150 MB


class AudioReader:
    """The warm child process; `read` is `read_audio_file` run there. Thread-safe (one read at a time)."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self._helper = HelperProcess("mrtd.style.audio_reader", timeout_s)

    def read(self, path: str | os.PathLike, needs: AudioNeeds) -> tuple[np.ndarray, int]:
        """As `read_audio_file(path, needs)`; ValueError (one line) if the file cannot be read."""
        name = Path(path).name
        request = {"path": str(path), "seconds": needs.seconds, "channels": needs.channels, "rate": needs.rate}
        try:
            reply = self._helper.ask(request)
        except HelperTimeout:
            raise ValueError(f"audio file {name}: took longer than {self._helper.timeout_s:g} s to read (the reader was stopped)") from None
        except HelperFailed:
            raise ValueError(f"audio file {name} could not be read (the reader stopped)") from None
        if "audio" not in reply:
            raise ValueError(reply.get("error") or f"audio file {name} could not be read ({reply.get('failed')})")
        samples = np.frombuffer(base64.b64decode(reply["audio"]), dtype=np.float32)
        return samples.reshape(-1, needs.channels), int(reply["rate"])

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for tests and benchmarks)."""
        return self._helper.pid

    @property
    def starts(self) -> int:
        return self._helper.starts

    def close(self) -> None:
        self._helper.close()


_shared: AudioReader | None = None
_shared_lock = threading.Lock()


def shared_reader() -> AudioReader:
    """The process's one reader (a child started on first use; it ends when this process does:
    its stdin closes)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = AudioReader()
        return _shared


def read_audio_isolated(path: str | os.PathLike, needs: AudioNeeds) -> tuple[np.ndarray, int]:
    """`read_audio_file` in the shared helper process."""
    return shared_reader().read(path, needs)


def _read(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: one file read, as base64 float32, or its error."""
    name = Path(str(request.get("path", "audio"))).name
    needs = AudioNeeds(float(request["seconds"]), int(request["channels"]), request["rate"])
    try:
        samples, rate = read_audio_file(request["path"], needs)
    except ValueError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"audio file {name} is too big to read"}
    return {"rate": rate, "audio": base64.b64encode(np.ascontiguousarray(samples, dtype=np.float32).tobytes()).decode("ascii")}


if __name__ == "__main__":
    serve(_read, MEMORY_LIMIT)
