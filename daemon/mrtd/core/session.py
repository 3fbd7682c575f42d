"""One session, built the same way for `mrtd run`, `mrtd render` and `mrtd render --replay`.

`build_session` makes what a live run and a render share: the control state around a style
space, the scene host (with the cached embedder), and, once the engine is chosen, the
generator that makes each frame from them. What differs is only around it: live, the
daemon adds the ring, the playout, the inputs and the feedback; offline, a loop writes the
frames. So a render of a scene is what a live run without live input makes, and a replay of
a capture is what the live run made.

Each frame, on the generation thread: the control state applies the commands due (the
queue's, or a replay's feed), then the scene host applies what its timeline has due, then a
replay's engine swaps; each command applied is told to the capture, when there is one; then
every `SessionListener` hears what the frame changed (live: the feedback, the journal, the
prompts' Solo encoding). Two ideas of listening, because they hear two things: the capture
needs each command, in order, with where it came from (`ControlState.listener`, told inside the
command step); the feedback and the journal need the state a frame left and what moved in it,
which includes what no command moves (a crossfade's mix).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from mrtd.control.state import ENGINE, ControlState
from mrtd.core.capture import Capture, CaptureHeader, CaptureWriter
from mrtd.core.engines import EngineSwitch, MakeEngine, SwapEngine, model_of
from mrtd.core.replay import ReplayFeed, replayed
from mrtd.core.scenes import SceneHost
from mrtd.engine import Engine
from mrtd.core.scene.isolated import SceneParser
from mrtd.core.scene.player import WallAt
from mrtd.runtime.generator import Generator
from mrtd.style.cache import CachedEmbedder
from mrtd.style.space import StyleSpace
from mrtd.vocabulary.changes import Change

log = logging.getLogger(__name__)


@runtime_checkable
class SessionListener(Protocol):
    """Hears each frame, on the generation thread, once its commands and the scene's timeline
    have applied: `changes` is what moved (empty on most frames), `state` the control state it
    left, to read and never to write. It must return quickly: it runs inside the frame's budget."""

    def changed(self, frame: int, changes: set[Change], state: ControlState) -> None: ...


@dataclass
class Session:
    """The parts a frame is made from; see `build_session`."""

    control: ControlState
    embedder: CachedEmbedder
    scenes: SceneHost
    generator: Generator[ControlState, Any] | None = None
    capture: CaptureWriter | None = None
    listeners: list[SessionListener] = field(default_factory=list)
    _told: tuple[Callable[[int, set[Change], ControlState], None], ...] = ()  # their `changed`, bound once
    # The mix last told, so a crossfade, which moves it without a command, is told as a change.
    mix: dict[str, float] = field(default_factory=dict)

    def listen(self, listener: SessionListener) -> None:
        """Tell `listener` every frame from now on (register before the generation thread runs)."""
        self.listeners.append(listener)
        self._told = tuple(listener.changed for listener in self.listeners)

    def play(self, engine: Engine) -> Generator[ControlState, Any]:
        """The generator that makes this session's frames with `engine`."""
        generator: Generator[ControlState, Any] = Generator(engine, self.control)
        generator.after_commands = self._after_commands
        generator.on_swap = self._swapped
        self.generator = generator
        return generator

    def record_to(self, capture: CaptureWriter, header: CaptureHeader) -> None:
        """Write every command this session applies from now on to `capture`."""
        capture.begin(header)
        self.capture = capture
        self.control.listener = capture.listen

    def stop_recording(self) -> None:
        """End the capture at the frames made (after the generation thread has stopped)."""
        capture, self.capture = self.capture, None
        if capture is not None:
            self.control.listener = None
            capture.stop(self.generator.frames if self.generator is not None else 0)

    def replay(self, capture: Capture, make_engine: MakeEngine | None,
               load_bank: Callable[[Engine, int, str | None], None] | None = None) -> None:
        """Feed `capture`'s commands to this session instead of any input, each on its frame;
        `make_engine` plays its engine swaps (None: the engine this session plays throughout)."""
        assert self.generator is not None, "play() first: a replay's engine swaps go to the generator"
        embedder = self.embedder
        self.control.feed = ReplayFeed(replayed(capture, embedder.embed_text, embedder.identity,
                                                engine_swaps=make_engine is not None))
        if make_engine is not None:
            EngineSwitch(self.control, make_engine, self.generator.swap_engine, load_bank)

    def _after_commands(self, control: ControlState) -> None:
        self.scenes.tick(control)  # the timeline's cues and hours (a replay's, from its feed)
        if control.feed is not None:
            control.apply_fed(control.frame, ENGINE)
        if self._told:  # a render has none: its frames cost what they did
            self._tell(control)

    def _tell(self, control: ControlState) -> None:
        changes = control.take_changes()
        weights = control.style.weights()
        if weights != self.mix:  # a crossfade moves the mix without a command
            self.mix = dict(weights)
            changes.add(Change.MIX)
        frame = control.frame
        for changed in self._told:
            changed(frame, changes, control)

    def _swapped(self, engine: Engine, crossfade_frames: int) -> None:
        """Generation thread: the generator took `engine` over in this frame."""
        self.control.tell(SwapEngine(engine.name, model_of(engine), crossfade_frames,
                                     bool(getattr(engine, "prefilled_frames", 0)), getattr(engine, "loaded_bank", None),
                                     getattr(engine, "loaded_bank_digest", None)), ENGINE)


def build_session(space: StyleSpace, embedder: CachedEmbedder, *, seed: int = 0, scene_dir: str = ".",
                  audio_dir: str = ".", publish: Callable[[dict[str, list[Any]]], None] = lambda _messages: None,
                  parser: SceneParser | None = None, wall_at: WallAt | None = None) -> Session:
    """The control state (its seed set), and the scene host that loads scenes into it (in the
    helper process `parser`, or here; `wall_at`: when each frame is heard, for scenes on the
    clock); `publish` hears what the scene loader refuses off the generation thread."""
    control = ControlState(space)
    control.set("seed", seed)
    scenes = SceneHost(control, embedder, scene_dir=scene_dir, audio_dir=audio_dir, publish=publish,
                       parser=parser, wall_at=wall_at)
    return Session(control, embedder, scenes)


def header_for(session: Session, engine: Engine, style_embedder: str, seed: int, lead_frames: int, ducks: bool,
               wall_start: float) -> CaptureHeader:
    """The capture's header for `session` playing `engine` from now."""
    return CaptureHeader(engine.name, model_of(engine), seed, style_embedder, session.embedder.identity,
                         wall_start, lead_frames, ducks)
