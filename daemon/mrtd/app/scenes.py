"""Scenes in the running daemon: loading and hot reload, the cue list, mappings, MIDI and learn.

Loading (parse, validate, encode prompts) happens on the caller's thread or
the watcher's; only the swap happens on the generation thread, at a frame
boundary, so a new scene never stalls the audio and a broken one never
replaces a good one.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrtd.app.paths import inside
from mrtd.control import commands as c
from mrtd.control.state import ControlState
from mrtd.inputs.midi import MidiInput
from mrtd.inputs.midi_clock import STATUSES as MIDI_CLOCK_STATUSES
from mrtd.inputs.scene.audio_refs import audio_prompt_errors
from mrtd.inputs.scene.loader import SceneError, load_scene
from mrtd.inputs.scene.mappings import MappingTable
from mrtd.inputs.scene.player import PreparedScene, ScenePlayer, prepare_scene
from mrtd.inputs.scene.schema import Mapping, MidiSource

if TYPE_CHECKING:
    from mrtd.app.daemon import Daemon

log = logging.getLogger(__name__)

LEARN_KINDS = ("param", "axis", "weight", "cue", "toggle")


class SceneHost:
    def __init__(self, daemon: "Daemon") -> None:
        self._daemon = daemon
        self.player: ScenePlayer | None = None  # generation thread only
        self.mappings = MappingTable([], self._cue_command)  # replaced whole, read by input threads
        self.path: Path | None = None
        self.last_errors: list[str] = []
        self.reloads = 0
        self.midi: MidiInput | None = None
        self._learning: dict[str, str] | None = None
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._mtime: tuple[int, int] | None = None
        self._load_lock = threading.Lock()  # one load at a time (OSC, watcher)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        config = self._daemon.config
        if config.midi:
            self.midi = MidiInput(self.on_midi, ports=config.midi_ports, virtual=True)
            if not self.midi.start():
                self.midi = None
        if config.scene:
            self.load(Path(config.scene))
        self._watcher = threading.Thread(target=self._watch, name="mrtd-scene-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(2.0)
        if self.midi is not None:
            self.midi.stop()

    # -- loading -------------------------------------------------------------------
    def load_named(self, name: str, due: float | None = None, background: bool = False) -> None:
        """Load a scene of the scene folder. `background`: check it here (cheap; errors raise at
        once), embed its prompts on a loader thread: an input thread never waits for MusicCoCa."""
        path = inside(self._daemon.config.scene_dir, name, ".yaml")
        if not path.exists():
            raise ValueError(f"no scene {path.name} in {self._daemon.config.scene_dir}")
        if not background:
            self.load(path, due)
            return
        errors = audio_prompt_errors(load_scene(path), path, self._daemon.config.audio_dir,
                                     takes_audio=self._daemon.embedder.supports_audio)
        if errors:
            raise SceneError(str(path), errors)
        threading.Thread(target=self._load_in_background, args=(path, due), name="mrtd-scene-load", daemon=True).start()

    def _load_in_background(self, path: Path, due: float | None) -> None:
        try:
            self.load(path, due)
        except SceneError as exc:
            log.warning("scene %s not loaded: %s", path, "; ".join(exc.errors))

    def load(self, path: Path, due: float | None = None, reload: bool = False) -> None:
        """Validate and prepare `path`, then swap it in at a frame boundary. SceneError if invalid."""
        with self._load_lock:
            try:
                stat = path.stat()
                mtime = (stat.st_mtime_ns, stat.st_size)
                scene = load_scene(path)
                embedder = self._daemon.embedder
                prepared = prepare_scene(scene, path, embedder.embed_text,
                                         embedder.embed_audio_file if embedder.supports_audio else None,
                                         self._daemon.config.audio_dir)
            except SceneError as exc:
                self.last_errors = exc.errors
                raise
            except (OSError, ValueError) as exc:
                self.last_errors = [f"{path}: {exc}"]
                raise SceneError(str(path), self.last_errors) from None
            self.path, self._mtime, self.last_errors = path, mtime, []
        self._daemon.control.submit(c.Call(f"scene {prepared.name}", lambda state: self._install(prepared, state, reload)), due)

    def _install(self, prepared: PreparedScene, state: ControlState, reload: bool) -> None:
        previous = self.player
        player = ScenePlayer(prepared)
        if reload and previous is not None:
            player.current = previous.current  # stay on the same cue, by position
        player.install(state, state.frame, keep_mix=reload and previous is not None)
        self.player = player
        self.mappings = MappingTable(list(prepared.scene.mappings), self._cue_command)
        if reload:
            self.reloads += 1
        log.info("scene %s %s (%d prompts, %d cues, %d mappings)", prepared.name, "reloaded" if reload else "loaded",
                 len(prepared.scene.prompts), len(prepared.scene.cues), len(prepared.scene.mappings))

    def _watch(self) -> None:
        """Hot reload: poll the scene file's mtime (cheap, and works on every filesystem)."""
        while not self._watch_stop.wait(0.25):
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

    # -- every frame (generation thread) ---------------------------------------------
    def tick(self, state: ControlState) -> None:
        if self.player is not None:
            self.player.tick(state, state.frame)

    # -- cues ----------------------------------------------------------------------------
    def _cue_command(self, which: str) -> c.Command:
        return c.Call(f"cue {which}", lambda state: self._go(state, which))

    def _go(self, state: ControlState, which: str | None) -> None:
        if self.player is not None:
            self.player.go(state, which)

    def resume_cue(self, state: ControlState, name: str) -> None:
        """Generation thread: stand on cue `name` again without replaying its fade."""
        if self.player is None:
            return
        try:
            self.player.current = self.player.find(name)
        except ValueError:
            return
        state.cue = name

    def cue(self, which: str | None, due: float | None, when: tuple[str, int] | None = None) -> None:
        player = self.player
        if player is None:
            raise ValueError("no scene is loaded, so there are no cues")
        if which not in (None, "go", "next", "previous"):
            player.find(which)  # refuse an unknown cue now, so the sender hears why
        command = self._cue_command(which or "next")
        if when is not None:
            command = c.Quantized(command, *when)
        self._daemon.control.submit(command, due)

    # -- mappings ---------------------------------------------------------------------------
    def from_osc(self, address: str, args: list[Any], due: float | None) -> bool:
        commands = self.mappings.from_osc(address, args)
        if commands is None:
            return False
        for command in commands:
            self._daemon.control.submit(command, due)
        return True

    def on_midi(self, message: list[int]) -> None:
        if not message:
            return
        if message[0] in MIDI_CLOCK_STATUSES:  # transport and clock: the tempo source's, if it is MIDI
            clock = self._daemon.midi_clock
            if clock is not None:
                for command in clock.feed(message, time.monotonic(), time.time()):
                    self._daemon.control.submit(command)
            return
        status = message[0] & 0xF0
        if status in (0xB0, 0x90, 0x80, 0xE0) and len(message) >= 3 and self._learning is not None:
            if status != 0x80 and not (status == 0x90 and message[2] == 0):
                self._learn_from(message)
            return
        control = self._daemon.control
        commands = self.mappings.from_midi(message)
        for command in commands:
            control.submit(command)
        if status in (0x90, 0x80) and len(message) >= 3 and not self.mappings.handles_note(message[0], message[1]):
            if status == 0x90 and message[2] > 0:
                control.submit(c.NoteOn(message[1], message[2]))
            else:
                control.submit(c.NoteOff(message[1]))

    # -- MIDI learn -----------------------------------------------------------------------------
    def learn(self, kind: str, name: str) -> None:
        if kind not in LEARN_KINDS:
            raise ValueError(f"learn what? one of {', '.join(LEARN_KINDS)} then a name")
        Mapping.model_validate({kind: name, "midi": {"cc": 0}})  # the same checks as a scene file
        if self.midi is None:
            raise ValueError("MIDI is off (no ALSA sequencer or JACK server), so there is nothing to learn from")
        self._learning = {kind: name}
        log.info("MIDI learn: move a control for %s %s", kind, name)

    def _learn_from(self, message: list[int]) -> None:
        target, self._learning = self._learning, None
        assert target is not None
        status, channel = message[0] & 0xF0, (message[0] & 0x0F) + 1
        if status == 0xB0:
            source = MidiSource(cc=message[1], channel=channel)
        elif status == 0xE0:
            source = MidiSource(bend=True, channel=channel)
        else:
            source = MidiSource(note=message[1], channel=channel)
        mapping = Mapping.model_validate({**target, "midi": source.model_dump(exclude_defaults=True)})
        self.mappings = MappingTable(self.mappings.mappings + [mapping], self._cue_command)
        described = source.model_dump(exclude_defaults=True)
        kind, name = next(iter(target.items()))
        log.info("MIDI learn: %s %s <- %s", kind, name, described)
        self._daemon.pusher.publish({"/mrt/learned": [kind, name, " ".join(f"{k}={v}" for k, v in described.items())]})
