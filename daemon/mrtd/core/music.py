"""What the music is doing, as a typed record: what the journal keeps for a restart, and what
a restart puts back (`restore`, applied by the `Resume` command on the generation thread)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Final, Literal, Mapping, Optional, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mrtd.control.commands import Command
from mrtd.control.state import ControlState
from mrtd.core.scenes import SceneHost
from mrtd.style.curves import CURVES
from mrtd.style.prompt_text import encoder_text
from mrtd.vocabulary.changes import Change
from mrtd.vocabulary.params import PARAMS

log = logging.getLogger(__name__)

VERSION: Final = 3  # 3: the scene file's digest, so a restart knows whether the scene was edited
FADE_IN_MS = 1500.0  # a restart fades the volume back in over this long


class Fade(BaseModel):
    """A crossfade under way: where it goes, how many frames it still has, its curve."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    target: dict[str, float]
    frames_left: int = Field(ge=1, le=10_000_000)
    curve: str

    def model_post_init(self, _context: Any) -> None:
        if self.curve not in CURVES:
            raise ValueError(f"unknown curve {self.curve!r}")


class MusicState(BaseModel):
    """Everything a restart needs to sound like it did (version 3 of the journal)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: Literal[3] = VERSION
    scene_path: Optional[str] = Field(default=None, max_length=4096)
    # sha256 of the scene file as it was loaded; None: no scene, or a journal older than version 3
    scene_digest: Optional[str] = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    cue: Optional[str] = Field(default=None, max_length=200)
    scene_frames: Optional[int] = Field(default=None, ge=0)  # frames into the scene's timeline (its lap)
    prompts: dict[str, str] = Field(default_factory=dict, max_length=256)  # name -> text
    mix: dict[str, float] = Field(default_factory=dict, max_length=256)  # raw weights, now
    fade: Optional[Fade] = None
    params: dict[str, float] = Field(default_factory=dict, max_length=64)
    axes: dict[str, float] = Field(default_factory=dict, max_length=256)
    xy: Optional[tuple[float, float]] = None

    def without_position(self) -> "MusicState":
        """The same state with what moves by itself every frame left out (for 'did it change?'):
        the place in the cue list and, while a fade runs, its frames left and the mix it moves."""
        if self.fade is None:
            return self.model_copy(update={"scene_frames": None})
        return self.model_copy(update={"scene_frames": None, "mix": {}, "fade": self.fade.model_copy(update={"frames_left": 1})})


def capture(state: ControlState, scene_path: Path | None, scene_frames: int | None,
            scene_digest: str | None = None) -> MusicState:
    """Generation thread: the music as it is at this frame (`scene_digest`: as `file_digest` gave it
    when the scene loaded; never computed here, which is no place for file I/O)."""
    fade = state.style.fade_in_flight()
    return MusicState(
        scene_path=str(scene_path) if scene_path is not None else None,
        scene_digest=scene_digest if scene_path is not None else None,
        cue=state.cue or None,
        scene_frames=scene_frames,
        prompts=dict(state.prompt_texts),
        mix=state.style.weights(),
        fade=None if fade is None else Fade(target=fade[0], frames_left=fade[1], curve=fade[2]),
        params={name: float(value) for name, value in state.values.items()},
        axes=dict(state.axes),
        xy=state.xy,
    )


def restore(state: ControlState, music: MusicState, embeddings: Mapping[str, np.ndarray],
            stand_on: Callable[[ControlState, str], None], fade_in_ms: float = FADE_IN_MS) -> None:
    """Generation thread: put `music` back, fading in. `embeddings`: its prompts' texts, encoded
    before the audio started. `stand_on(state, cue)` puts the scene player back on its cue
    without replaying the cue's fade (the scene was installed at its place in the timeline,
    `scene_frames`, before this runs). A value a newer or older mrtd would not accept is
    skipped with a warning; the rest is restored."""
    for name, value in music.params.items():
        if name == "volume":
            continue
        try:
            state.set(name, value)
        except (KeyError, ValueError) as exc:
            log.warning("journal: %s not restored: %s", name, exc)
    for name, text in music.prompts.items():
        if not state.has_prompt(name):  # the same path an OSC definition takes, limit included
            try:
                state.define_prompt(name, text, embeddings[name], weight=0.0)
            except (KeyError, ValueError) as exc:
                log.warning("journal: prompt %s not restored: %s", name, exc)
    known = state.prompt_texts
    state.style.crossfade_to({n: w for n, w in music.mix.items() if n in known and 0.0 <= w <= 100.0}, 0)
    if music.fade is not None:
        target = {n: w for n, w in music.fade.target.items() if n in known and 0.0 <= w <= 100.0}
        state.crossfade(target, music.fade.frames_left, music.fade.curve)
    for axis, value in music.axes.items():
        try:
            state.style.set_axis(int(axis) if axis.isdigit() else axis, value)
            state.axes[axis] = value
        except (KeyError, ValueError, IndexError) as exc:
            log.warning("journal: axis %s not restored: %s", axis, exc)
    if music.xy is not None:
        state.xy = music.xy
    if music.cue:
        stand_on(state, music.cue)
    volume = music.params.get("volume", PARAMS["volume"].default)
    state.set("volume", -60.0)
    state.glide("volume", volume, fade_in_ms / 3)  # about 95 % there after fade_in_ms
    state.changed.update((Change.MIX, Change.PROMPTS, Change.SCENE, Change.CUE, Change.AXES, Change.XY))


def embeddings_of(music: MusicState, embed_text: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """The journal's prompts encoded (on the caller's thread, before the audio starts), as 'SOLO
    text' when Solo was on (style/prompt_text.py `encoder_text`): what they sounded like then."""
    solo = bool(music.params.get("solo", 0.0))
    return {name: embed_text(encoder_text(text, solo)) for name, text in music.prompts.items()}


@dataclass(frozen=True)
class Resume(Command):
    """A restart puts the journaled music back, after its scene installed, in the same frame."""

    music: MusicState
    embeddings: dict[str, np.ndarray] = field(compare=False)  # the prompts', from `embeddings_of`
    keep_place: bool = True  # the very file journaled (False: edited since: its cue's span is found again)

    def apply(self, state: ControlState) -> None:
        host = state.hosts.get(SceneHost)
        keep_place = self.keep_place

        def stand_on(state: ControlState, cue: str) -> None:
            if isinstance(host, SceneHost):
                host.stand_on(state, cue, keep_place=keep_place)

        restore(state, self.music, self.embeddings, stand_on)


def music_now(state: ControlState) -> MusicState:
    """Generation thread (the state's one writer, so one frame's state is read whole): the music
    now, with the scene's place when a scene host is at work."""
    host = state.hosts.get(SceneHost)
    if isinstance(host, SceneHost):
        return capture(state, host.path, host.position(state), host.digest)
    return capture(state, None, None)
