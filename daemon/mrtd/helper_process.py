"""A warm helper process for work that must not share the daemon's interpreter or locks.

Two jobs run in one: parsing scene files (CPU-bound Python that would take the GIL
from the generation thread, `core/scene/isolated.py`) and SpectroStream encoding
for prefill (one MLX call over 28 s of audio that would hold the MLX lock the
playing engine needs, `engines/encoder_process.py`). Each is a `HelperProcess`:

- one child, started on first use and kept warm, answers one request at a time
  over pipes (a JSON line each way);
- bounded in time (`timeout_s`: past it the child is killed and the next request
  starts a new one) and, where given, in address space (`memory_limit`);
- run at nice 19: background work, never ahead of the audio for a core;
- a child found dead when a request comes (killed from outside while idle) is
  replaced and the request retried once; a fresh child that dies on a request
  is not given it again.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

MAX_REPLY = 64 << 20  # bytes of JSON the parent reads back
BACKGROUND_NICE = 19


class HelperTimeout(Exception):
    """The child took longer than its time bound and was stopped."""


class HelperFailed(Exception):
    """The child stopped (died, or answered nonsense) instead of answering."""


class HelperProcess:
    """The parent's side: `ask` sends one request and returns the child's reply. Thread-safe."""

    def __init__(self, module: str, timeout_s: float) -> None:
        self.module = module  # run as `python -m module`; it calls `serve`
        self.timeout_s = timeout_s
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.starts = 0  # children started: one, unless one was killed (a timeout, memory, from outside)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        line = (json.dumps(request) + "\n").encode()
        with self._lock:
            for attempt in (1, 2):
                reused = self._child is not None and self._child.poll() is None
                if not reused:
                    self._kill()
                    self._child = self._start()
                child = self._child
                assert child is not None and child.stdin is not None and child.stdout is not None
                try:
                    child.stdin.write(line)
                    child.stdin.flush()
                    return json.loads(_read_line(child, time.monotonic() + self.timeout_s))
                except TimeoutError:
                    self._kill()
                    raise HelperTimeout(f"took longer than {self.timeout_s:g} s") from None
                except (OSError, ValueError):  # it died: killed from outside while idle, or by this request
                    self._kill()
                    if not (reused and attempt == 1):
                        break  # a fresh child died on this request: do not give it to another
            raise HelperFailed("the helper process stopped")

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for status and benchmarks)."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _start(self) -> subprocess.Popen:
        self.starts += 1
        return subprocess.Popen(
            [sys.executable, "-m", self.module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0, close_fds=True, env={**os.environ, "PYTHONPATH": _package_root()},
        )

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def _read_line(child: subprocess.Popen, deadline: float) -> bytes:
    out = child.stdout
    assert out is not None
    chunks: list[bytes] = []
    size = 0
    fd = out.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:  # the child died (out of memory, killed)
            raise ValueError("no reply")
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)
        if size > MAX_REPLY:
            raise ValueError("reply too long")


def _package_root() -> str:
    """Where `mrtd` is imported from, so the child runs this very code (also from a source tree)."""
    root = str(Path(__file__).resolve().parents[1])
    existing = os.environ.get("PYTHONPATH")
    return root if not existing else f"{root}{os.pathsep}{existing}"


def serve(handle: Callable[[dict[str, Any]], dict[str, Any]], memory_limit: int | None = None) -> None:
    """The child: one JSON request per line on stdin, `handle`'s reply per line on stdout.

    `handle` answers its own errors; an exception it lets through becomes {"failed": name}.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICE)
    except (OSError, AttributeError):
        pass
    if memory_limit is not None:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        except (ImportError, ValueError, OSError):
            pass  # no limit where the platform has none; the parent's timeout still holds
    for line in sys.stdin.buffer:
        try:
            reply = handle(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a bug in the job: answer, keep serving
            reply = {"failed": type(exc).__name__}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
