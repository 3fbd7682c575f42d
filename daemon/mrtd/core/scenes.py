"""Scenes in the running daemon: loading and hot reload, the cue list, the controller mappings.

Loading (parse, validate, encode prompts) happens on a worker thread (OSC's
`/mrt/scene/load`), the watcher's, or at start; only the swap happens on the
generation thread, at a frame boundary, so a new scene never stalls the audio
or the OSC replies, and a broken one never replaces a good one.

Order: `/mrt/scene/load x` then `/mrt/cue y` or `/mrt/mix a 1` (one bundle, or
one after the other) checks y or a against x. While a load waits in the
worker, later cues and scene-dependent commands (mix, weight, axis, xy) queue
behind it (`after_loads`) and are checked against the scene it left (x, or the
old scene if x was refused), then applied after it; otherwise they are checked
at once against the scene playing or accepted (`incoming`). What is refused
there is answered to its sender late, like a load. A load the worker refuses
is answered to its sender as `/mrt/error` (a late reply, within the sender's
reply budget), pushed to subscribers, logged, and counted in `/mrt/status`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mrtd.control import commands as c
from mrtd.control.state import TIMELINE, ControlState
from mrtd.core.paths import inside
from mrtd.vocabulary.replies import Error
from mrtd.core.scene.isolated import SceneParser
from mrtd.core.scene.loader import SceneError, load_scene
from mrtd.core.scene.mappings import MappingTable
from mrtd.frame import FRAME_SECONDS
from mrtd.core.scene.player import PreparedScene, ScenePlayer, WallAt, cue_label, find_cue, prepare_scene
from mrtd.core.scene.schema import Mapping, Scene
from mrtd.lifecycle import Worker
from mrtd.style.prompt_text import encoder_text
from mrtd.yamlcheck import MAX_BYTES, read_text

if TYPE_CHECKING:
    from mrtd.vocabulary.codec import Answer
    from mrtd.style.cache import CachedEmbedder

log = logging.getLogger(__name__)

MAX_QUEUED_LOADS = 8  # scene requests waiting for the worker; more are refused at once
# How often a scene on the clock reads the wall clock again (10 s): between reads a frame is
# 40 ms of wall time, so a read costs nothing per frame, and an NTP step or the drift between the
# sound card's crystal and the wall clock (seconds a week) never adds up past one interval.
RESYNC_FRAMES = 250


class WallFrames:
    """Frame -> the wall-clock time (epoch seconds) it is heard at, for scenes on the clock.

    `heard_frame(wall)` is the output's `FrameClock.frame_of` (built on the same `wall_clock`),
    set once audio flows; until then a frame counts as heard when it is made, and the mapping is
    read again every frame until the output clock answers, so the lead is never missed."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.wall_clock = wall_clock
        self.heard_frame: Callable[[float], float] | None = None
        self._anchor: tuple[int, float, bool] | None = None  # (frame, its wall time, from the output clock)

    def __call__(self, frame: int) -> float:
        anchor = self._anchor
        if anchor is None or not anchor[2] or not 0 <= frame - anchor[0] < RESYNC_FRAMES:
            now = self.wall_clock()
            heard = self.heard_frame(now) if self.heard_frame is not None else math.nan
            exact = math.isfinite(heard)
            anchor = self._anchor = (frame, now + ((frame - heard) if exact else 0.0) * FRAME_SECONDS, exact)
        return anchor[1] + (frame - anchor[0]) * FRAME_SECONDS


@dataclass(frozen=True)
class SceneShown:
    """The scene playing, as an input may read it. The generation thread publishes a new one
    when a scene installs or a cue fires, so no input reads the player it is changing."""

    name: str
    scene: Scene  # as validated; nothing changes it once loaded
    cues: tuple[str, ...]
    fired: tuple[int, str, float] | None  # the cue last fired: (frame, label, fade seconds)


class SceneHost:
    """Scenes for one control state. Its collaborators, and nothing else, are handed in: the
    command queue (`control`), the embedder, the folders, where worker-side errors are
    published, and the helper process to parse in. The daemon and
    `mrtd render` build it the same way, so a render plays a scene as a live run does."""

    def __init__(self, control: ControlState, embedder: "CachedEmbedder", *, scene_dir: str = ".", audio_dir: str = ".",
                 publish: Callable[[dict[str, list[Any]]], None] = lambda _messages: None,
                 parser: SceneParser | None = None, wall_at: WallAt | None = None) -> None:
        """`parser`: parse in that helper process (the daemon: the audio plays on); None: here.
        `wall_at`: the wall time each frame is heard at, for scenes on the clock (default:
        `WallFrames` on the machine's clock)."""
        self.wall_at: WallAt = wall_at if wall_at is not None else WallFrames()
        self._control = control
        control.hosts[SceneHost] = self  # what the scene commands below apply to
        self._parser = parser
        self._embedder = embedder
        self.scene_dir, self.audio_dir = scene_dir, audio_dir
        self._publish = publish
        self.player: ScenePlayer | None = None  # generation thread only
        self._shown: SceneShown | None = None  # what inputs read: published by `tick`
        self._shown_of: tuple[ScenePlayer, int] | None = None  # the player and its fires it shows
        self.mappings = MappingTable([], self._cue_command)  # replaced whole, read by input threads
        self.path: Path | None = None
        self.digest: str | None = None  # the loaded file's sha256, for the journal (read with `path`)
        self.last_errors: list[str] = []
        self.reloads = 0
        self._watcher = Worker("mrtd-scene-watch", self._watch)
        self._mtime: tuple[int, int] | None = None
        self._load_lock = threading.Lock()  # one load at a time (OSC, watcher)
        self._accepted: Scene | None = None  # the last scene handed to the generation thread
        self._accepted_name = ""
        self._jobs: queue.Queue = queue.Queue(MAX_QUEUED_LOADS)
        self._pending = 0  # jobs queued or running; cues wait behind them
        self._pending_lock = threading.Lock()
        self._worker: Worker | None = None  # the loader; None until started (tests, render: loads run inline)
        self.worker_errors = 0

    # -- lifecycle ---------------------------------------------------------------
    def start(self, scene: str | None = None, position: int | None = None) -> None:
        """Load `scene` (`position` frames into its timeline: a restart of the scene the journal
        names), start the watcher and the loader."""
        if scene:
            self.load(Path(scene), position=position)
        self._watcher.start()
        self._worker = Worker("mrtd-scene-load", self._work, wake=self._wake_worker)
        self._worker.start()

    def stop(self) -> None:
        """Stop the watcher and the loader (each finishes the load it is in), then the parser."""
        self._watcher.stop()
        if self._worker is not None:
            self._worker.stop()
        if self._parser is not None:
            self._parser.close()

    def _wake_worker(self) -> None:
        try:
            self._jobs.put_nowait(None)
        except queue.Full:
            pass  # jobs are waiting, so the loader is not blocked: it sees the flag after this one

    @property
    def parser_pid(self) -> int | None:
        """The helper process scenes are parsed in, while it runs (None: parsed in this process)."""
        return self._parser.pid if self._parser is not None else None

    # -- loading -------------------------------------------------------------------
    def load_named(self, name: str, due: float | None = None, answer: "Answer | None" = None) -> None:
        """OSC: the cheap checks now (so the sender hears them), the load itself on the worker;
        what the worker refuses goes to `answer` (the sender), and to subscribers."""
        path = inside(self.scene_dir, name, ".yaml")  # symlinks resolved: must stay inside
        shown = path.name if len(path.name) <= 60 else path.name[:57] + "..."
        try:
            info = os.stat(path)  # stat, not open: a FIFO is never waited on
        except OSError:
            raise ValueError(f"no scene {shown} in {self.scene_dir}") from None
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"scene {shown} is not a regular file")
        if info.st_size > MAX_BYTES:
            raise ValueError(f"scene {shown} is {info.st_size} bytes, over the limit of {MAX_BYTES}")
        try:
            self._queue(("load", path, due, answer))
        except SceneError as exc:  # not started (tests, render): loaded here, its errors told the sender
            shown = "; ".join(exc.errors[:3]) + (f" (+{len(exc.errors) - 3} more)" if len(exc.errors) > 3 else "")
            raise ValueError(shown) from None

    def _queue(self, job: tuple) -> None:
        with self._pending_lock:
            if self._worker is None:  # not started (tests, render): do it here
                self._run_job(job, raise_errors=True)
                return
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                raise ValueError("busy: too many scene requests waiting; try again") from None
            self._pending += 1

    def _work(self) -> None:
        assert self._worker is not None
        stopping = self._worker.stopping
        while not stopping.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._run_job(job, raise_errors=False)
            except Exception:  # noqa: BLE001 - the worker must outlive any one file
                log.exception("scene request %s failed", job[0])
            finally:
                with self._pending_lock:
                    self._pending -= 1

    def _run_job(self, job: tuple, raise_errors: bool) -> None:
        kind = job[0]
        try:
            if kind == "load":
                self.load(job[1], job[2], root=Path(self.scene_dir))
            else:  # "call": a request queued behind a load
                job[1]()
        except (SceneError, ValueError) as exc:
            if raise_errors:
                raise
            errors = exc.errors if isinstance(exc, SceneError) else [str(exc)]
            self.worker_errors += 1
            address = "/mrt/scene/load" if kind == "load" else job[2]
            shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
            log.error("%s refused: %s", address, shown)
            answer = job[3]
            refused = Error(address, shown).message()
            if answer is not None:
                answer([refused])
            self._publish(dict([refused]))

    def load(self, path: Path, due: float | None = None, reload: bool = False, root: Path | None = None,
             position: int | None = None) -> None:
        """Validate and prepare `path` (inside `root`, default its own folder), then swap it in at
        a frame boundary, `position` frames into its timeline (a restart) or at its start.
        SceneError if invalid."""
        audio = (self.audio_dir,)
        with self._load_lock:
            try:
                info = path.stat()
                mtime = (info.st_mtime_ns, info.st_size)
                # Read once, bounded: its digest for the journal, its text for a capture. The parse
                # reads it again (in the helper); an edit in between is the watcher's next reload.
                text = read_text(path, MAX_BYTES)
                digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
                scene = self._parse(path, root)
                embedder = self._embedder
                # In Solo its text prompts are encoded as 'SOLO text' (a switch while this loads:
                # the prompts controller queues them again when the scene installs).
                solo = bool(self._control.values["solo"])
                prepared = prepare_scene(scene, path, lambda words: embedder.embed_text(encoder_text(words, solo)),
                                         embedder.embed_audio_file if embedder.supports_audio else None, audio, text)
            except SceneError as exc:
                self.last_errors = exc.errors
                raise
            except (OSError, ValueError) as exc:
                self.last_errors = [f"{path}: {exc}"]
                raise SceneError(str(path), self.last_errors) from None
            self.path, self.digest, self._mtime, self.last_errors = path, digest, mtime, []
            self._accepted, self._accepted_name = scene, prepared.name
            self._control.submit(InstallScene(prepared, reload, position), due)

    def _parse(self, path: Path, root: Path | None = None) -> Scene:
        return (self._parser.load if self._parser is not None else load_scene)(path, root, (self.audio_dir,))

    def cue_labels(self, path: str | Path) -> list[str] | None:
        """The cues of the scene at `path` as the journal names them, None when it does not load
        (the load that follows reports why). A restart onto an edited scene asks this first."""
        try:
            scene = self._parse(Path(path))
        except (SceneError, OSError, ValueError):
            return None
        return [cue_label(cue, index) for index, cue in enumerate(scene.cues)]

    def install(self, prepared: PreparedScene, state: ControlState, reload: bool, position: int | None = None,
                heard_at: float | None = None) -> None:
        """Generation thread (InstallScene): make `prepared` the scene playing, from this frame."""
        previous = self.player
        player = ScenePlayer(prepared, self.wall_at)
        if reload and previous is not None and previous.prepared.path == prepared.path:
            player.install(state, state.frame, keep_mix=True, previous=previous, heard_at=heard_at)
        else:
            player.install(state, state.frame, keep_mix=reload and previous is not None, position=position,
                           heard_at=heard_at)
        self.player = player
        self.mappings = MappingTable(list(prepared.scene.mappings), self._cue_command)
        if reload:
            self.reloads += 1
        log.info("scene %s %s (%d prompts, %d cues, %d mappings)", prepared.name, "reloaded" if reload else "loaded",
                 len(prepared.scene.prompts), len(prepared.scene.cues), len(prepared.scene.mappings))

    def _watch(self) -> None:
        """Hot reload: poll the scene file's mtime (cheap, and works on every filesystem)."""
        while not self._watcher.stopping.wait(0.25):
            path, known = self.path, self._mtime
            if path is None:
                continue
            try:
                stat = path.stat()
                mtime = (stat.st_mtime_ns, stat.st_size)  # size too: some filesystems keep coarse times
            except OSError:
                continue  # an editor's save-by-rename: it comes back
            if mtime == known:
                continue
            try:
                self.load(path, reload=True)
            except SceneError as exc:
                self._mtime = mtime  # do not retry the same broken version
                log.error("scene %s not reloaded; the old version keeps playing:\n%s", path, "\n".join(exc.errors))
            except Exception:  # noqa: BLE001 - hot reload must never die silently
                self._mtime = mtime
                log.exception("scene %s not reloaded; the old version keeps playing", path)

    # -- every frame (generation thread) ---------------------------------------------
    def tick(self, state: ControlState) -> None:
        """After the frame's commands: apply what the scene's timeline has due (its timed cues, its
        opening hours) as commands, then publish what changed. A replay's timeline is silent:
        what it fired is in the capture, applied here in its place."""
        if state.feed is not None:
            state.apply_fed(state.frame, TIMELINE)
        player = self.player
        if player is None:
            return
        if state.feed is None:
            index, closing = player.due(state.frame)
            if closing is not None and player.clock is not None:  # it overrides a manual stop or start
                log.info("%s (%s)", "closing: fading out" if closing else "opening: fading in", player.prepared.name)
                state.apply_timeline(c.Rest(closing, player.clock.hours_fade_s, by_hours=True))
            if index is not None:
                state.apply_timeline(FireCue(index))
        if self._shown_of != (player, player.fires):
            self._shown_of = (player, player.fires)
            self._shown = self._show(player, state)

    @staticmethod
    def _show(player: ScenePlayer, state: ControlState) -> SceneShown:
        fired = None
        if player.fired and player.current is not None:
            frame, label = player.fired[-1]
            fired = (frame, label, player.fade_seconds(player.scene.cues[player.current], state))
        return SceneShown(player.prepared.name, player.scene, tuple(player.cue_names()), fired)

    def on_the_clock(self) -> bool:
        """Whether the scene accepted last plays on the wall clock (times of day or opening hours)."""
        scene = self._accepted
        return scene is not None and (scene.on_the_clock or scene.hours is not None)

    def hours_text(self, now: float) -> str:
        """Any thread: "open until 18:00", "closed until Mon 10:00", "" for a scene without hours."""
        player = self.player
        return player.hours_text(now) if player is not None else ""

    def shown(self) -> SceneShown | None:
        """Any thread: the scene playing and its last cue, as of the last frame made."""
        return self._shown

    # -- cues ----------------------------------------------------------------------------
    @staticmethod
    def _cue_command(which: str) -> c.Command:
        return GoCue(which)

    def go(self, state: ControlState, which: str | None) -> None:
        """Generation thread (GoCue): move the cue list; nothing without a scene."""
        if self.player is not None:
            self.player.go(state, which)

    def stand_on(self, state: ControlState, cue: str, keep_place: bool = True) -> None:
        """Generation thread (a restart): see `ScenePlayer.stand_on`; `keep_place=False` (the
        scene was edited since the journal) moves the place in the timeline into that cue's span."""
        if self.player is not None:
            self.player.stand_on(state, cue, keep_place)

    def position(self, state: ControlState) -> int | None:
        """Frames into the playing scene's timeline at `state`'s frame, None without a scene
        (exact on the generation thread; from another, at most a frame old)."""
        return None if self.player is None else self.player.position(state.frame)

    def cue(self, which: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: "Answer | None" = None) -> None:
        """Go to a cue, checked against the scene the loads ahead of it leave."""
        self.after_loads(lambda: self._cue_now(which, due, when), "/mrt/cue", answer)

    def loading(self) -> bool:
        """Whether a scene load (or a request queued behind one) is still in the worker."""
        with self._pending_lock:
            return self._pending > 0

    def after_loads(self, submit: Callable[[], None], address: str, answer: "Answer | None" = None) -> None:
        """Run `submit` once the loads ahead of it are done (now, when none is), so a command sent
        after `/mrt/scene/load` is checked against that scene and applies after it installs;
        a refusal then is answered to `answer` as an `address` error, logged and counted."""
        if self.loading():
            self._queue(("call", submit, address, answer))
        else:
            submit()

    def incoming(self) -> Scene | None:
        """The scene accepted for install that the generation thread has not installed yet (any
        thread: its prompts, axes and surface are what the next commands will meet)."""
        accepted, player = self._accepted, self.player
        if accepted is None or (player is not None and player.prepared.scene is accepted):
            return None
        return accepted

    def _cue_now(self, which: str | None, due: float | None, when: tuple[str, int] | None) -> None:
        scene = self._accepted
        if scene is None:
            raise ValueError("no scene is loaded, so there are no cues")
        if which not in (None, "go", "next", "previous"):
            find_cue(scene, which, self._accepted_name)  # refuse an unknown cue now, so the sender hears why
        command = self._cue_command(which or "next")
        if when is not None:
            command = c.Quantized(command, *when)
        self._control.submit(command, due)

    # -- mappings ---------------------------------------------------------------------------
    def from_osc(self, address: str, args: list[Any], due: float | None) -> bool:
        commands = self.mappings.from_osc(address, args)
        if commands is None:
            return False
        for command in commands:
            self._control.submit(command, due)
        return True

    def from_midi(self, message: list[int]) -> bool:
        """MIDI input thread: the scene's mappings for a channel message; True when a mapping
        takes this note (it is then not played as a note as well)."""
        for command in self.mappings.from_midi(message):
            self._control.submit(command)
        return (len(message) >= 3 and message[0] & 0xF0 in (0x90, 0x80)
                and self.mappings.handles_note(message[0], message[1]))

    def add_mapping(self, mapping: Mapping) -> None:
        """A mapping learned live: it joins the scene's (until the next load)."""
        self.mappings = MappingTable(self.mappings.mappings + [mapping], self._cue_command)


# -- the scene host's commands ---------------------------------------------------------------------
def scene_host(state: ControlState) -> SceneHost:
    """The scene host the state's scene commands apply to (the one built around it)."""
    host = state.hosts[SceneHost]
    assert isinstance(host, SceneHost)
    return host


@dataclass(frozen=True)
class InstallScene(c.Command):
    """A scene prepared off the generation thread (prompts encoded, PCA read) becomes the one
    playing, at the frame it is due (`SceneHost.install`)."""

    prepared: PreparedScene = field(compare=False)
    reload: bool = False  # a hot reload: the mix stays and the cue and place are kept where they can be
    position: int | None = None  # frames into its timeline (a restart from the journal); None: its start
    heard_at: float | None = None  # the wall time its first frame is heard at (a scene on the clock)

    def apply(self, state: ControlState) -> None:
        scene_host(state).install(self.prepared, state, self.reload, self.position, self.heard_at)

    def settled(self, state: ControlState) -> "InstallScene":
        scene = self.prepared.scene
        if self.heard_at is not None or not (scene.on_the_clock or scene.hours is not None):
            return self
        return replace(self, heard_at=scene_host(state).wall_at(state.frame))  # where its clock starts


@dataclass(frozen=True)
class GoCue(c.Command):
    """/mrt/cue, a mapping's cue button: a cue by name or number, "next", "previous" or "go"."""

    which: str

    def apply(self, state: ControlState) -> None:
        scene_host(state).go(state, self.which)


@dataclass(frozen=True)
class FireCue(c.Command):
    """The scene's timeline reached cue `index` (a time, a bar, a time of day)."""

    index: int

    def apply(self, state: ControlState) -> None:
        player = scene_host(state).player
        if player is None:
            raise ValueError("no scene is playing")
        if not 0 <= self.index < len(player.scene.cues):
            raise ValueError(f"the scene has no cue {self.index + 1}")
        player.fire(state, self.index)
