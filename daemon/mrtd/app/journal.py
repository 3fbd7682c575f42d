"""The state journal: what the music is doing, on disk, so a restart picks up where it was.

After a power cut, a gallery should come back playing the same scene, cue,
mix and settings, fading in rather than starting cold. The journal is the
snapshot a control surface sees (the same OSC messages `/mrt/sync` sends)
plus the scene file's path. It is written by its own thread, at most once
per `interval_s`, only when something changed, atomically: a temporary
file, fsync, then rename, so a crash mid-write leaves the previous version.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

VERSION = 1


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
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


class Journal:
    def __init__(self, path: str | Path, read_state: Callable[[], dict[str, Any]], interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self._read_state = read_state
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written: str | None = None
        self.writes = 0

    def load(self) -> dict[str, Any] | None:
        """The last journaled state, or None (missing, unreadable or from another version)."""
        try:
            entry = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("journal %s unreadable (%s); starting fresh", self.path, exc)
            return None
        if not isinstance(entry, dict) or entry.get("version") != VERSION or not isinstance(entry.get("state"), dict):
            log.warning("journal %s is not a version %d journal; starting fresh", self.path, VERSION)
            return None
        return entry

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mrtd-journal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.flush()

    def flush(self) -> None:
        text = json.dumps({"version": VERSION, **self._read_state()}, sort_keys=True)
        if text == self._written:
            return
        try:
            write_atomically(self.path, text)
        except OSError as exc:  # a full disk must not stop the music
            log.error("journal %s not written: %s", self.path, exc.strerror or exc)
            return
        self._written = text
        self.writes += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()


def resume_action(entry: dict[str, Any], embed_text: Callable[[str], Any], go_to_cue: Callable[[Any, str], None],
                  fade_in_ms: float = 1500.0) -> Callable[[Any], None]:
    """What to do on the generation thread to put the journaled state back, fading in.

    Prompt texts are encoded here, on the caller's thread, before the audio starts.
    """
    from mrtd.control.params import PARAMS
    from mrtd.feedback.snapshot import PARAM_ADDRESS

    state_messages: dict[str, list[Any]] = entry["state"]
    param_of = {address: name for name, address in PARAM_ADDRESS.items()}
    texts = state_messages.get("/mrt/prompts", [])
    prompts = {str(texts[i]): str(texts[i + 1]) for i in range(0, len(texts) - 1, 2)}
    embeddings = {name: embed_text(text) for name, text in prompts.items()}
    mix = state_messages.get("/mrt/mix", [])
    weights = {str(mix[i]): float(mix[i + 1]) for i in range(0, len(mix) - 1, 2)}

    def apply(state: Any) -> None:
        for address, args in state_messages.items():
            name = param_of.get(address)
            if name is not None and args and name != "volume":
                try:
                    state.set(name, args[0])
                except ValueError as exc:  # a journal from an older version, or hand-edited
                    log.warning("journal: %s not restored: %s", name, exc)
        for name, text in prompts.items():
            if name not in state.prompt_texts:
                state.style.set_prompt(name, embeddings[name], weight=0.0)
                state.prompt_texts[name] = text
        state.style.crossfade_to({n: w for n, w in weights.items() if n in state.prompt_texts}, 0)
        for address, args in state_messages.items():
            if address.startswith("/mrt/axis/") and args:
                axis = address.rsplit("/", 1)[1]
                state.style.set_axis(int(axis) if axis.isdigit() else axis, float(args[0]))
                state.axes[axis] = float(args[0])
        if state_messages.get("/mrt/xy"):
            state.xy = tuple(state_messages["/mrt/xy"][:2])
        cue = (state_messages.get("/mrt/cue") or [""])[0]
        if cue:
            go_to_cue(state, str(cue))
        volume = float((state_messages.get(PARAM_ADDRESS["volume"]) or [PARAMS["volume"].default])[0])
        state.set("volume", -60.0)
        state.glide("volume", volume, fade_in_ms / 3)  # about 95 % there after fade_in_ms
        state.changed.update(("mix", "scene", "cue"))

    return apply
