"""The state journal: what the music is doing, on disk, so a restart picks up where it was.

After a power cut, a gallery should come back playing the same scene, at the
same place in its cue list, with the same mix (and the fade that was under
way), prompts and settings, fading in rather than starting cold.

The journal is a typed, versioned record (`MusicState`), not a copy of the
OSC feedback: it is captured on the generation thread (the state's one
writer) when the journal thread asks, written by the journal thread at most
once per `interval_s` and only when something changed, atomically: a
temporary file, fsync, then rename, so a crash mid-write leaves the previous
version. A journal is untrusted on the way back in (hand-edited, from another
version, truncated by a full disk): it is read with a size bound and checked
field by field; anything it cannot use is refused with one clear line and
the daemon starts fresh.

A journal belongs to the scene it was written with (`scene_path`, and the
file's `scene_digest`): `fit_to_scene` decides what of it a start may use, so
a journal from another scene, or from a run without one, never silences the
scene being started.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from pydantic import ValidationError

from mrtd.control.state import ControlState
from mrtd.core.files import read_at_most, write_atomically
from mrtd.core.music import VERSION, MusicState, Resume, embeddings_of, music_now
from mrtd.core.scene.loader import SceneError
from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.shown import PARAMETER_REQUESTS
from mrtd.lifecycle import STOP_TIMEOUT_S, Worker

log = logging.getLogger(__name__)

MAX_JOURNAL_BYTES = 1 << 20  # a real journal is a few KB; a bigger file is not ours
POSITION_INTERVAL_S = 10.0  # a cue list's position alone is written this often (SD cards wear)


class JournalError(ValueError):
    """A journal that cannot be used; the message names the reason and never quotes the file."""


def read(path: Path) -> MusicState | None:
    """The journal at `path`: None when there is none; JournalError when it cannot be used."""
    try:
        data = read_at_most(path, MAX_JOURNAL_BYTES)
    except OSError as exc:
        raise JournalError(f"unreadable ({exc.strerror or exc})") from None
    if data is None:
        return None
    if len(data) > MAX_JOURNAL_BYTES:
        raise JournalError(f"over {MAX_JOURNAL_BYTES} bytes, so not a journal mrtd wrote")
    try:
        entry = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise JournalError("not JSON (cut short by a crash or a full disk?)") from None
    if not isinstance(entry, dict):
        raise JournalError("not a journal (no version)")
    version = entry.get("version")
    if version == 1:
        entry = _from_version_1(entry)
    elif version == 2:  # the same fields less the scene's digest: its cue is then found by name
        entry = {**entry, "version": VERSION}
    elif version != VERSION:
        raise JournalError(f"version {version!r}; this mrtd reads versions 1 to {VERSION}"
                           + (" (written by a newer mrtd?)" if isinstance(version, int) and version > VERSION else ""))
    try:
        return MusicState.model_validate(entry)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'journal'}: {e['msg']}" for e in exc.errors()[:3]]
        raise JournalError("; ".join(problems)) from None


def _from_version_1(entry: dict[str, Any]) -> dict[str, Any]:
    """Version 1 journals (OSC feedback messages keyed by address), read so an upgrade keeps the music."""
    messages = entry.get("state")
    if not isinstance(messages, dict):
        raise JournalError("version 1 journal without its state")

    def pairs(address: str) -> list[tuple[Any, Any]]:
        items = messages.get(address) or []
        return list(zip(items[0::2], items[1::2])) if isinstance(items, list) else []

    addresses = {name: kind.address for name, kind in PARAMETER_REQUESTS.items()}  # the wire names version 1 stored
    params = {name: (messages.get(address) or [None])[0] for name, address in addresses.items()
              if isinstance(messages.get(address), list) and messages.get(address)}
    axes = {address.rsplit("/", 1)[1]: args[0] for address, args in messages.items()
            if address.startswith("/mrt/axis/") and isinstance(args, list) and args}
    return {
        "scene_path": entry.get("scene_path"),
        "cue": (messages.get("/mrt/cue") or [None])[0] or None,
        "prompts": {str(name): str(text) for name, text in pairs("/mrt/prompts")},
        "mix": dict(pairs("/mrt/mix")),
        "params": params,
        "axes": axes,
        "xy": (messages.get("/mrt/xy") or None),
    }


def file_digest(path: str | Path, limit: int = MAX_JOURNAL_BYTES) -> str | None:
    """sha256 of a scene file (its first `limit` bytes: a scene is bounded far below), None when
    it cannot be read (the load that follows says why)."""
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read(limit)).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Fit:
    """What of a journal a start may use: `music` (None: start as written) and, when it resumes a
    scene, whether that scene is the very file journaled (`same_file`: its place in the timeline
    holds) or an edited one (its cue is found by name, its place moved into that cue)."""

    music: MusicState | None
    scene: str | None  # the scene file to resume (the configured one, or the journal's own)
    same_file: bool
    why: str  # the one log line; empty when there is nothing to say


def fit_to_scene(music: MusicState | None, configured: str | None, digest_now: Callable[[str], str | None],
                 cue_labels: Callable[[str], list[str] | None]) -> Fit:
    """Whether `music` belongs to the scene being started (`configured`, or without one the
    journal's own scene): the same file by real path, unedited (`digest_now`), or edited with the
    journal's cue still among `cue_labels` (None: the file cannot be read; its load will say
    why). A journal from no scene or another scene is not applied to a configured scene: the
    scene starts as written (first cue, its fade). Without a configured scene, as before: the
    journal resumes, its own scene included."""
    if music is None:
        return Fit(None, configured, False, "")
    if configured is None and music.scene_path is None:
        return Fit(music, None, False, "")
    if configured is not None and music.scene_path is None:
        return Fit(None, configured, False, f"journal not applied: it is from a run without a scene, so {configured} "
                                            "starts as written")
    assert music.scene_path is not None
    scene = configured if configured is not None else music.scene_path
    if os.path.realpath(scene) != os.path.realpath(music.scene_path):
        return Fit(None, scene, False, f"journal not applied: it is from the scene {music.scene_path}, so {scene} "
                                       "starts as written")
    digest = digest_now(scene)
    if digest is not None and digest == music.scene_digest:
        return Fit(music, scene, True, "")
    if not music.cue:
        return Fit(None, scene, False, f"journal not applied: {scene} was edited since it was written, and no cue "
                                       "was playing, so the scene starts as written")
    labels = cue_labels(scene)
    if labels is not None and music.cue not in labels:
        return Fit(None, scene, False, f"journal not applied: {scene} was edited since and has no cue "
                                       f"{music.cue[:60]!r} any more, so it starts as written")
    return Fit(music, scene, False, f"journal: {scene} was edited since it was written; resuming on its cue "
                                    f"{music.cue[:60]!r} by name")


class Journal:
    """Writes the latest `MusicState` offered to it.

    A session listener (core/session.py): the journal's thread asks for the music, and the
    generation thread, at its next frame, reads it and `offer`s it; the journal's thread waits `interval_s`,
    then writes what came back if it differs from what is on disk. A change of
    position alone (the cue list moving on, a fade's frames running down) is
    written at most every `position_interval_s`.
    """

    def __init__(self, path: str | Path, interval_s: float = 1.0,
                 position_interval_s: float = POSITION_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._asked = False  # set by the journal's thread, taken by the generation thread
        self.interval_s = interval_s
        self.position_interval_s = position_interval_s
        self._clock = clock
        self._latest: MusicState | None = None
        self._offered = threading.Event()
        self._written: MusicState | None = None  # without position
        self._written_at = -float("inf")
        self.writes = 0
        self.failing = ""  # why the last write failed ("" once one succeeds): logged once, retried each interval
        self._worker = Worker("mrtd-journal", self._run)

    def load(self) -> MusicState | None:
        """The last journaled state, or None (missing, or unusable: logged once, start fresh).
        A write cut short by a crash left its temporary file (write_atomically's `.journal.json.*`):
        removed here, at start, so crashes over weeks do not pile them up in the state folder."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*"):
            try:
                leftover.unlink()
            except OSError as exc:
                log.warning("journal: could not remove the cut write %s: %s", leftover.name, exc)
        try:
            return read(self.path)
        except JournalError as exc:
            log.warning("journal %s not used: %s; starting fresh", self.path, exc)
            return None

    def _ask(self) -> None:
        """Have the generation thread read the music at its next frame."""
        self._asked = True

    def changed(self, frame: int, changes: set[Change], state: ControlState) -> None:
        """Generation thread, each frame: the music now, when the journal's thread asked for it."""
        if self._asked:
            self._asked = False
            self.offer(music_now(state))

    def offer(self, music: MusicState) -> None:
        """Any thread (the generation thread, in the daemon): the state to write next."""
        self._latest = music
        self._offered.set()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._offered.clear()
        self._ask()  # the music is still playing: write where it is now, not a second ago
        self._offered.wait(min(STOP_TIMEOUT_S, 10 * self.interval_s))
        self.flush()

    def flush(self) -> bool:
        """Write the latest state if it changed; True when it wrote."""
        music = self._latest
        if music is None:
            return False
        still = music.without_position()
        if still == self._written and (music == still or self._clock() - self._written_at < self.position_interval_s):
            return False
        try:
            write_atomically(self.path, music.model_dump_json())
        except OSError as exc:  # a full disk must not stop the music: say so once, retry next interval
            why = str(exc.strerror or exc)
            if why != self.failing:
                log.error("journal %s not written: %s (retrying every %g s)", self.path, why, self.interval_s)
            self.failing = why
            return False
        if self.failing:
            log.warning("journal %s written again", self.path)
            self.failing = ""
        self._written, self._written_at = still, self._clock()
        self.writes += 1
        return True

    def _run(self) -> None:
        stopping = self._worker.stopping
        while not stopping.is_set():
            self._ask()
            if stopping.wait(self.interval_s):
                return
            self.flush()


class ResumeHost(Protocol):
    """What a resume needs of the scene host (core/scenes.py's `SceneHost` meets it)."""

    def load(self, path: Path, *, position: int | None = None) -> object: ...

    def on_the_clock(self) -> bool: ...


def resume(fit: Fit, scene_configured: bool, scenes: ResumeHost, control: ControlState,
           embed_text: Callable[[str], Any], journal_path: Path) -> None:
    """Put back what of the journal fits (`fit_to_scene`), before the first frame: its scene when
    none was configured, then its mix, prompts and settings, fading in (`Resume`, applied after the
    scene's install in the same frame). A scene on the wall clock keeps the clock's place."""
    music = fit.music
    if music is None:
        return
    if music.scene_path and not scene_configured:
        try:
            scenes.load(Path(music.scene_path), position=music.scene_frames)
        except (SceneError, OSError) as exc:
            log.warning("journal: scene %s not restored: %s", music.scene_path, exc)
    if scenes.on_the_clock():
        # A scene on the clock has started where the wall clock says (its last cue, its fade as
        # far along as the time says: ScenePlayer._start_on_clock); the journal's mix, fade and
        # cue, from before the stop, would put back a moment that has passed.
        log.info("scene on the clock: it starts where the clock says, not where %s left it", journal_path)
        return
    control.submit(Resume(music, embeddings_of(music, embed_text), keep_place=fit.same_file))
    log.info("resuming from %s (scene %s, cue %s)", journal_path, music.scene_path, music.cue or "-")
