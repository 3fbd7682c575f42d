"""Scene files parsed in a helper process, so a big one never starves the generation thread.

Parsing is CPU-bound Python. In the daemon's process it shares the GIL with
the generation thread, and every time the generator lets the GIL go (numpy
does, many times a frame) it waits a switch interval to get it back: while a
1.2 MB scene of raw embeddings was parsed, synth steps took over 40 ms and the
output had 2-4 underruns (benchmarks/bench_hostile_scenes.py). In a child
process the parse has its own interpreter and the audio none of its cost.

One child is kept warm and answers one request at a time over pipes (a JSON
line each way): the same `load_scene` as `mrtd check` and `mrtd render` run,
returning the checked scene as JSON or its errors. The child is bounded in
address space (`MEMORY_LIMIT`) and in time (`TIMEOUT_S`): past either it is
killed, the load is refused with one line, and the next load starts a new
child. The parent rebuilds the `Scene` from the JSON with pydantic (a few
milliseconds for the biggest scene allowed).
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

from mrtd.inputs.scene.loader import SceneError, load_scene
from mrtd.inputs.scene.schema import Scene

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # the biggest scene allowed (4 MB) parses in about 3 s on a slow CPU
MEMORY_LIMIT = 1 << 30  # the child's address space; the bounded parse of a 4 MB scene needs ~250 MB
MAX_REPLY = 64 << 20  # bytes of JSON the parent reads back


class SceneParser:
    """The warm child process; `load` is `load_scene` run there. Thread-safe (one load at a time)."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.starts = 0  # children started: one, unless one was killed (a timeout, memory, from outside)

    def load(self, path: Path, folder: Path | None = None, audio_folders: tuple[str | Path, ...] = ()) -> Scene:
        request = json.dumps({"path": str(path), "folder": None if folder is None else str(folder),
                              "audio": [str(a) for a in audio_folders]}) + "\n"
        with self._lock:
            reply = self._ask(request, str(path))
        if "errors" in reply:
            raise SceneError(str(path), [str(e) for e in reply["errors"]])
        return Scene.model_validate(reply["scene"])

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for status and benchmarks)."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _ask(self, request: str, shown: str) -> dict:
        for attempt in (1, 2):
            reused = self._child is not None and self._child.poll() is None
            if not reused:
                self._kill()
                self._child = self._start()
            child = self._child
            assert child.stdin is not None and child.stdout is not None
            try:
                child.stdin.write(request.encode())
                child.stdin.flush()
                line = self._read_line(child, time.monotonic() + self.timeout_s)
                return json.loads(line)
            except TimeoutError:
                self._kill()
                raise SceneError(shown, [f"{shown}: took longer than {self.timeout_s:g} s (the scene parser was stopped)"]) from None
            except (OSError, ValueError):  # it died: killed from outside while idle, or by this file
                self._kill()
                if not (reused and attempt == 1):
                    break  # a fresh child died on this file: do not feed it to another
        raise SceneError(shown, [f"{shown}: could not be parsed (the scene parser stopped)"])

    @staticmethod
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

    def _start(self) -> subprocess.Popen:
        self.starts += 1
        return subprocess.Popen(
            [sys.executable, "-m", "mrtd.inputs.scene.isolated"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0, close_fds=True, env={**os.environ, "PYTHONPATH": _package_root()},
        )

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def _package_root() -> str:
    """Where `mrtd` is imported from, so the child runs this very code (also from a source tree)."""
    root = str(Path(__file__).resolve().parents[3])
    existing = os.environ.get("PYTHONPATH")
    return root if not existing else f"{root}{os.pathsep}{existing}"


def serve() -> None:
    """The child: one JSON request per line on stdin, one JSON reply per line on stdout."""
    try:  # background work: never ahead of the audio for a core (the daemon may run raised)
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    except (OSError, AttributeError):
        pass
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass  # no limit where the platform has none; the parent's timeout still holds
    for line in sys.stdin.buffer:
        request: dict = {}
        try:
            request = json.loads(line)
            scene = load_scene(Path(request["path"]), request["folder"], tuple(request["audio"]))
            reply = {"scene": scene.model_dump(mode="json", by_alias=True)}
        except SceneError as exc:
            reply = {"errors": exc.errors}
        except MemoryError:
            reply = {"errors": [f"{request.get('path', 'the scene')}: too big to parse"]}
        except Exception as exc:  # noqa: BLE001 - a bug in a check: refuse the file, keep serving
            reply = {"errors": [f"{request.get('path', 'the scene')}: cannot be checked ({type(exc).__name__})"]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
