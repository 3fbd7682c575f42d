"""A capture played again: its commands fed to the control state on the frames they applied.

With the embedder the capture was made with, every stored embedding is used as it is, so the
state is the live one frame for frame. With another embedder (another machine, MusicCoCa
installed since), a prompt's text is encoded again with this one: the same performance,
steered as this machine steers it. An audio prompt cannot be heard again (its file is not in
the capture), so its stored embedding is used, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Iterable, Sequence

import numpy as np

from mrtd.control import commands as c
from mrtd.core.capture import Capture
from mrtd.core.engines import SwapEngine
from mrtd.core.music import Resume, embeddings_of
from mrtd.core.scenes import InstallScene
from mrtd.core.scene.player import PreparedScene

log = logging.getLogger(__name__)

Record = tuple[int, str, c.Command]  # (frame, origin, command)
EmbedText = Callable[[str], np.ndarray]


class ReplayFeed:
    """The control state's `Feed` for a replay: a frame's commands by where they came from."""

    def __init__(self, records: Iterable[Record]) -> None:
        self._due: dict[tuple[int, str], list[c.Command]] = {}
        for frame, origin, command in records:
            self._due.setdefault((frame, origin), []).append(command)

    def due(self, frame: int, origin: str) -> Sequence[c.Command]:
        return self._due.get((frame, origin), ())


def replayed(capture: Capture, embed_text: EmbedText, identity: str, engine_swaps: bool) -> list[Record]:
    """The capture's records as this replay applies them: re-encoded where this machine's embedder
    (`identity`) is not the one the capture was made with, without the engine swaps unless
    `engine_swaps` (an --engine asked for plays throughout)."""
    records = capture.records
    if not engine_swaps:
        swaps = sum(isinstance(command, SwapEngine) for _, _, command in records)
        if swaps:
            log.info("replay: %d engine swap(s) in the capture are not played: the engine asked for plays throughout", swaps)
        records = [record for record in records if not isinstance(record[2], SwapEngine)]
    if identity == capture.header.style_identity:
        return list(records)
    log.info("replay: prompts encoded again with this machine's embedder (%s; the capture's was %s)",
             identity, capture.header.style_identity)
    return list(_reencoded(records, embed_text))


def _reencoded(records: Iterable[Record], embed_text: EmbedText) -> Iterable[Record]:
    texts: dict[str, str] = {}  # each prompt's text, as its last definition gave it
    for frame, origin, command in records:
        if isinstance(command, c.DefinePrompt):
            texts[command.name] = command.text
            if command.embedding is not None:
                command = replace(command, embedding=embed_text(command.text))
        elif isinstance(command, c.PromptReady) and command.name in texts:
            command = replace(command, embedding=embed_text(texts[command.name]))
        elif isinstance(command, InstallScene):
            command = replace(command, prepared=_scene_reencoded(command.prepared, embed_text))
        elif isinstance(command, Resume):
            command = replace(command, embeddings=embeddings_of(command.music, embed_text))
        yield frame, origin, command


def _scene_reencoded(prepared: PreparedScene, embed_text: EmbedText) -> PreparedScene:
    embeddings = dict(prepared.embeddings)
    for name, prompt in prepared.scene.prompts.items():
        if prompt.text is not None and prompt.embedding is None:
            embeddings[name] = embed_text(prompt.text)
        elif prompt.audio is not None:
            log.warning("replay: scene %s's audio prompt %s plays as the capture encoded it (its file is not in "
                        "the capture)", prepared.name, name)
    return replace(prepared, embeddings=embeddings)
