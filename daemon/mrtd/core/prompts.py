"""The prompts-and-mix controller: which prompt names a command meets, what it may name, and the
encoder's way back into the music.

Inputs run on their own threads and see the state a frame or more late: a name defined a moment
ago (`/mrt/prompt a ...` then `/mrt/mix a 1` in one bundle) is still encoding, and a scene
accepted for install brings its prompts, axes and surface at the next frame. This controller
checks a command against what it will meet (turning slot numbers into names), registers a
prompt at once and has the encoder embed it off every input thread; the encoder's result comes
back as a command. As a session listener it queues the text prompts again when Solo switches
(they are encoded as 'SOLO text' while it is on).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

import numpy as np

from mrtd.control import commands as c
from mrtd.control.state import MAX_PROMPTS, ControlState, Controls, check_prompt_room
from mrtd.style.cache import CachedEmbedder
from mrtd.style.encoder import EncoderWorker
from mrtd.vocabulary.changes import Change

if TYPE_CHECKING:
    from mrtd.core.scene.schema import Scene

log = logging.getLogger(__name__)

PENDING_S = 5.0  # how long a name defined here counts before the state shows it


class Incoming(Protocol):
    """What the prompts ask of the scenes (`SceneHost`): the scene accepted for install at the
    next frame, whose prompts, axes and surface the next commands meet."""

    def incoming(self) -> "Scene | None": ...


class PromptController:
    def __init__(self, controls: Controls, scenes: Incoming, embedder: CachedEmbedder) -> None:
        self._controls = controls
        self._scenes = scenes
        self.encoder = EncoderWorker(embedder, self._ready, self._failed)
        # Names an input defined that the generation thread may not have applied yet.
        self._pending_names: dict[str, float] = {}

    def names(self) -> list[str]:
        """The prompt names a command sent now meets, in slot order."""
        names = self._controls.prompt_names()
        defined = set(names)
        now = time.monotonic()
        for name, stamp in list(self._pending_names.items()):
            if name in defined or now - stamp > PENDING_S:
                del self._pending_names[name]
            else:
                names.append(name)
        incoming = self._scenes.incoming()
        if incoming is not None:  # accepted, installing at the next frame: its prompts are met, in its order
            names = list(incoming.prompts) + [name for name in names if name not in incoming.prompts]
        return names

    def checked(self, command: c.Command) -> c.Command:
        """Refuse what would change nothing or the wrong thing; turn slot numbers into names."""
        if isinstance(command, c.Quantized):
            inner = self.checked(command.inner)
            return command if inner is command.inner else c.Quantized(inner, command.unit, command.count)
        if isinstance(command, c.SetWeight):
            name = c.resolve_prompt(command.name, self.names())
            return command if name == command.name else c.SetWeight(name, command.weight)
        if isinstance(command, c.SetMix):
            known = self.names()
            pairs = tuple((c.resolve_prompt(n, known), w) for n, w in command.weights)
            return command if pairs == command.weights else c.SetMix(pairs, command.length, command.unit, command.curve)
        controls = self._controls
        incoming = self._scenes.incoming()  # installs at the next frame: what the command meets
        if isinstance(command, c.SetAxis) and not controls.has_axis(command.axis) and not _scene_has_axis(incoming, command.axis):
            if isinstance(command.axis, int):
                raise ValueError(f"no PCA axis {command.axis}: load a PCA file (scene `pca:`) first")
            raise ValueError(f"no axis {command.axis!r}")
        if isinstance(command, c.SetXY) and not controls.has_surface and not (
                incoming is not None and any(p.position is not None for p in incoming.prompts.values())):
            raise ValueError("no surface: no prompt has a position (a scene's prompts `position: [x, y]`)")
        return command

    def check_room(self, name: str) -> None:
        """The registry's own limit, told the sender of a new prompt now (ValueError when full)."""
        check_prompt_room(name, self.names())

    def defining(self, name: str, text: str) -> None:
        """`name` was just submitted (still encoding): it counts for the next commands, and the
        encoder embeds `text`; it joins the mix when the encoder is done."""
        if len(self._pending_names) < MAX_PROMPTS:
            self._pending_names[name] = time.monotonic()
        self.encoder.submit(name, text=text)

    def changed(self, frame: int, changes: set[Change], state: ControlState) -> None:
        """Generation thread (a session listener): Solo encodes text prompts as 'SOLO text', so a
        switch queues every prompt whose text is words again, a scene's included; and a scene
        installed in Solo had its prompts encoded when it was loaded, maybe before the switch:
        they are queued again too (the cache answers at once when the load had it right)."""
        if Change.SOLO in changes:
            self.encoder.set_solo(bool(state.values["solo"]), state.worded_texts())
        elif Change.SCENE in changes and state.values["solo"]:
            for name, text in state.worded_texts().items():
                self.encoder.submit(name, text=text)

    def _ready(self, name: str, embedding: np.ndarray) -> None:
        self._controls.submit(c.PromptReady(name, embedding))

    def _failed(self, name: str, reason: str) -> None:
        log.warning("prompt %r could not be encoded: %s", name, reason)
        self._controls.submit(c.ClearPrompt(name))


def _scene_has_axis(scene: "Scene | None", axis: int | str) -> bool:
    """Whether a scene about to install brings `axis` (a numbered one needs its PCA file)."""
    if scene is None:
        return False
    if isinstance(axis, str) and axis.isdigit():
        axis = int(axis)
    return scene.pca is not None if isinstance(axis, int) else axis in scene.axes
