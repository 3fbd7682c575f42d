"""Audio prompts of a scene: where their files are, and whether they can be read.

`mrtd check` and loading a scene ask the same questions here, so a scene
that passes the check does not fail at load over an audio prompt.
"""

from __future__ import annotations

from pathlib import Path

from mrtd.inputs.scene.schema import Scene
from mrtd.style.audio_prompt import probe_audio_file, resolve_audio_prompt


def audio_folders(scene_path: Path, audio_dir: str | Path | None) -> list[Path]:
    """The scene's own folder, then the daemon's audio folder."""
    folders = [Path(scene_path).parent]
    if audio_dir is not None:
        folders.append(Path(audio_dir))
    return folders


def audio_prompt_errors(scene: Scene, scene_path: Path, audio_dir: str | Path | None = None,
                        takes_audio: bool = True) -> list[str]:
    """One line per audio prompt that loading would refuse: `file: prompts.NAME.audio: reason`."""
    errors = []
    folders = audio_folders(scene_path, audio_dir)
    for name, prompt in scene.prompts.items():
        if prompt.audio is None:
            continue
        where = f"{scene_path}: prompts.{name}.audio"
        if not takes_audio:
            errors.append(f"{where}: the style embedder in use cannot embed audio")
            continue
        try:
            probe_audio_file(resolve_audio_prompt(str(prompt.audio), folders))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
    return errors
