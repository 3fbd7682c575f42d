"""Scene files parsed in a helper process, so a big one never starves the generation thread.

Parsing is CPU-bound Python. In the daemon's process it shares the GIL with
the generation thread, and every time the generator lets the GIL go (numpy
does, many times a frame) it waits a switch interval to get it back: while a
1.2 MB scene of raw embeddings was parsed, synth steps took over 40 ms and the
output had 2-4 underruns (benchmarks/bench_hostile_scenes.py). In a child
process the parse has its own interpreter and the audio none of its cost.

The child is a warm `HelperProcess` (helper_process.py): it runs the same
`load_scene` as `mrtd check` and `mrtd render`, returning the checked scene as
JSON or its errors. It is bounded in address space (`MEMORY_LIMIT`) and in time
(`TIMEOUT_S`): past either it is killed, the load is refused with one line, and
the next load starts a new child. The parent rebuilds the `Scene` from the JSON with pydantic (a few
milliseconds for the biggest scene allowed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mrtd.helper_process import HelperFailed, HelperProcess, HelperTimeout, serve
from mrtd.core.scene.loader import SceneError, load_scene
from mrtd.core.scene.schema import Scene

TIMEOUT_S = 10.0  # the biggest scene allowed (4 MB) parses in about 3 s on a slow CPU
MEMORY_LIMIT = 1 << 30  # the child's address space; the bounded parse of a 4 MB scene needs ~250 MB


class SceneParser:
    """The warm child process; `load` is `load_scene` run there. Thread-safe (one load at a time)."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self._helper = HelperProcess("mrtd.core.scene.isolated", timeout_s)

    def load(self, path: Path, folder: Path | None = None, audio_folders: tuple[str | Path, ...] = ()) -> Scene:
        shown = str(path)
        request = {"path": shown, "folder": None if folder is None else str(folder), "audio": [str(a) for a in audio_folders]}
        try:
            reply = self._helper.ask(request)
        except HelperTimeout:
            raise SceneError(shown, [f"{shown}: took longer than {self.timeout_s:g} s (the scene parser was stopped)"]) from None
        except HelperFailed:
            raise SceneError(shown, [f"{shown}: could not be parsed (the scene parser stopped)"]) from None
        if "scene" not in reply:
            raise SceneError(shown, [str(e) for e in reply.get("errors", [f"{shown}: cannot be checked"])])
        return Scene.model_validate(reply["scene"])

    @property
    def timeout_s(self) -> float:
        return self._helper.timeout_s

    @timeout_s.setter
    def timeout_s(self, seconds: float) -> None:
        self._helper.timeout_s = seconds

    @property
    def starts(self) -> int:
        return self._helper.starts

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for status and benchmarks)."""
        return self._helper.pid

    def close(self) -> None:
        self._helper.close()


def _parse(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: one scene file checked, as JSON, or its errors."""
    shown = request.get("path", "the scene")
    try:
        scene = load_scene(Path(request["path"]), request["folder"], tuple(request["audio"]))
        return {"scene": scene.model_dump(mode="json", by_alias=True)}
    except SceneError as exc:
        return {"errors": exc.errors}
    except MemoryError:
        return {"errors": [f"{shown}: too big to parse"]}
    except Exception as exc:  # noqa: BLE001 - a bug in a check: refuse the file, keep serving
        return {"errors": [f"{shown}: cannot be checked ({type(exc).__name__})"]}


if __name__ == "__main__":
    serve(_parse, MEMORY_LIMIT)
