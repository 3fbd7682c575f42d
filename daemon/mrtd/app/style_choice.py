"""Which style embedder and quantizer the daemon uses: chosen once, here, and handed down.

MusicCoCa (the embedder MRT2 was trained with, and its RVQ quantizer
`pretrained_vector_quantizer.tflite`) when its files are in the MusicCoCa
folder and the `musiccoca` extra imports; the built-in pair otherwise. The
control and style layers only ever see the chosen objects: they never build
a concrete embedder or quantizer themselves.

The built-in pair steers the built-in synth, but its tokens mean nothing to a
trained MRT2 model; `mrt2_warning` says so in words a user can act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mrtd.style.audio_prompt import DEFAULT_AUDIO_PROMPT_READ, AudioEmbedder, check_audio_prompt_read
from mrtd.style.builtin_audio import BuiltinAudioEmbedder
from mrtd.style.embedder import Embedder
from mrtd.style.musiccoca_assets import EMBEDDER_FILES, INSTALL_HINT, QUANTIZER_FILE, musiccoca_dir
from mrtd.style.quantizer import BuiltinQuantizer, Quantizer
from mrtd.style.space import StyleSpace

MUSICCOCA_FILES = (*EMBEDDER_FILES, QUANTIZER_FILE)


@dataclass
class StyleChoice:
    """The embedder/quantizer pair in use, and why."""

    name: str  # "musiccoca" or "builtin"
    embedder: Embedder
    quantizer: Quantizer
    folder: Path  # where the MusicCoCa files are looked for
    missing: list[str] = field(default_factory=list)  # MusicCoCa files not found there
    reason: str = ""  # why MusicCoCa is not in use ("" when it is)

    @property
    def takes_audio(self) -> bool:
        return isinstance(self.embedder, AudioEmbedder)

    def describe(self) -> str:
        if self.name == "musiccoca":
            mapper = ", text mapper" if getattr(self.embedder, "use_mapper", False) else ""
            return f"MusicCoCa ({self.folder}{mapper})"
        return f"built-in ({self.reason})"

    def mrt2_warning(self) -> str:
        """The plain sentence for an mrt2 engine playing without MusicCoCa ("" when it has it)."""
        if self.name == "musiccoca":
            return ""
        return (
            "prompts will not steer the mrt2 model: the built-in embedder's tokens mean nothing to it. "
            f"MusicCoCa is not in use because {self.reason}. Put {', '.join(MUSICCOCA_FILES)} "
            f"(and optionally mapper.tflite) in {self.folder}, and {INSTALL_HINT}."
        )

    def new_space(self) -> StyleSpace:
        # Linear blend by normalised weights plus axis offsets, not renormalised: the
        # official engine quantizes exactly that sum (core/src/mlx_engine.cpp).
        return StyleSpace(self.quantizer)


def _extra_missing() -> str:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
        import sentencepiece  # noqa: F401
    except ImportError as error:
        return f"the musiccoca extra is not installed ({error.name or error})"
    return ""


def choose_style(musiccoca_folder: str | os.PathLike | None = None, *, want: str = "auto",
                 audio_read: str = DEFAULT_AUDIO_PROMPT_READ) -> StyleChoice:
    """MusicCoCa when its files and extra are present (or `want="musiccoca"`, which raises if not),
    else the built-in pair. `want="builtin"` forces the built-in pair. `audio_read`: how MusicCoCa
    makes a prompt of an audio file ("first" or "average", style/audio_prompt.py)."""
    check_audio_prompt_read(audio_read)
    folder = musiccoca_dir(musiccoca_folder)
    missing = [name for name in MUSICCOCA_FILES if not (folder / name).is_file()]
    if want == "builtin":
        return _builtin(folder, missing, "the built-in embedder was asked for")
    reason = ""
    if missing:
        reason = f"{len(missing)} of its files {'is' if len(missing) == 1 else 'are'} missing from {folder} ({', '.join(missing)})"
    else:
        reason = _extra_missing()
    if reason:
        if want == "musiccoca":
            raise RuntimeError(f"MusicCoCa was asked for, but {reason}")
        return _builtin(folder, missing, reason)
    from mrtd.style.musiccoca import MusicCoCaEmbedder
    from mrtd.style.quantizer import MusicCoCaQuantizer

    try:
        embedder = MusicCoCaEmbedder(folder, audio_read=audio_read)
        quantizer = MusicCoCaQuantizer(folder)  # loads and probes the model now, before "ready"
    except (ImportError, ValueError, OSError) as error:  # a damaged or wrong file: say so, keep playing
        if want == "musiccoca":
            raise
        return _builtin(folder, [], f"its files could not be loaded ({error})")
    return StyleChoice("musiccoca", embedder, quantizer, folder)


def _builtin(folder: Path, missing: list[str], reason: str) -> StyleChoice:
    return StyleChoice("builtin", BuiltinAudioEmbedder(), BuiltinQuantizer(), folder, missing, reason)
