"""Audio prompts of a scene: whether the embedder in use can take them and their files be read.

`mrtd check` and loading a scene ask the same questions here, so a scene
that passes the check does not fail at load over an audio prompt. Where a
file may lie (inside the scene's folder or an audio folder) is the loader's
rule, `referenced_file`.
"""

from __future__ import annotations

from pathlib import Path

from mrtd.core.scene.loader import referenced_file
from mrtd.core.scene.schema import Scene
from mrtd.style.audio_prompt import probe_audio_file


def audio_prompt_errors(scene: Scene, scene_path: Path, audio_folders: tuple[str | Path, ...] = (),
                        takes_audio: bool = True) -> list[str]:
    """One line per audio prompt that loading would refuse: `file: prompts.NAME.audio: reason`."""
    return audio_prompt_report(scene, scene_path, audio_folders, takes_audio)[0]


def audio_prompt_report(scene: Scene, scene_path: Path, audio_folders: tuple[str | Path, ...] = (),
                        takes_audio: bool = True) -> tuple[list[str], list[str]]:
    """(errors, warnings), one line each: what loading would refuse, and what it would read with a
    caveat (a WAV cut short: `probe_audio_file` says why that is a warning, not an error)."""
    errors: list[str] = []
    warnings: list[str] = []
    for name, prompt in scene.prompts.items():
        if prompt.audio is None:
            continue
        where = f"{scene_path}: prompts.{name}.audio"
        if not takes_audio:
            errors.append(f"{where}: the style embedder in use cannot embed audio")
            continue
        try:
            info = probe_audio_file(referenced_file(scene_path, str(prompt.audio), audio_folders))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            continue
        if info.warning:
            warnings.append(f"{where}: warning: {info.warning}")
    return errors, warnings
