"""Reading a scene file: YAML in, a validated `Scene` out, or every error at once.

A scene is untrusted: it can be named over OSC by anyone allowed to send, and
it names other files (`pca:`, prompts' `audio:`). So the scene file itself
must lie in its folder once symlinks are resolved, and so must every file it
names (or in the configured audio folder); each must be a regular file of a
bounded size. `load_scene` runs every check a load runs, so `mrtd check`
and the daemon agree: what `check` calls ok, the daemon plays.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from mrtd.core.scene.schema import Scene
from mrtd.yamlcheck import YamlError, load_yaml, parse_yaml

MAX_PCA_BYTES = 16 * 1024 * 1024  # six components and a few hundred centroids of 768 float32s
MAX_AUDIO_BYTES = 512 * 1024 * 1024  # an audio prompt (only its first seconds are used)
# An error line goes into OSC replies, pushes and logs. The schema's limits keep what the
# messages quote short; this cut is the backstop for any message that still quotes too much.
MAX_ERROR_LINE_CHARS = 400


class SceneError(YamlError):
    """A scene file that cannot be played. `errors` holds every problem, one line each,
    none longer than MAX_ERROR_LINE_CHARS."""

    def __init__(self, path: str, errors: list[str]) -> None:
        super().__init__(path, [_cut(line) for line in errors])


def _cut(line: str) -> str:
    """`line`, or its start and how much was left out; never over MAX_ERROR_LINE_CHARS (so cutting twice changes nothing)."""
    if len(line) <= MAX_ERROR_LINE_CHARS:
        return line
    tail = f"... ({len(line)} characters in all)"
    return line[: MAX_ERROR_LINE_CHARS - len(tail)] + tail


def _real_inside(folder: Path, path: Path) -> Path | None:
    """`path` with symlinks resolved, if it lies inside `folder` (resolved too); else None."""
    root = folder.expanduser().resolve()
    real = path.expanduser().resolve()
    return real if real.is_relative_to(root) and real != root else None


def referenced_file(scene_path: str | Path, name: str, extra_folders: tuple[str | Path, ...] = ()) -> Path:
    """The file a scene names (`pca:`, `audio:`), resolved inside the scene's folder or one of
    `extra_folders`; ValueError (quoting nothing of any file) otherwise."""
    folders = [Path(scene_path).parent, *map(Path, extra_folders)]
    if not name or "\x00" in name:
        raise ValueError("an empty file name")
    for folder in folders:
        candidate = Path(name) if Path(name).is_absolute() else folder / name
        real = _real_inside(folder, candidate)
        if real is not None and (real.exists() or folder is folders[-1]):
            return real
    raise ValueError(f"{name!r} leads outside the scene's folder")


def _check_file(real: Path, limit: int) -> str | None:
    """Why `real` cannot be read as a data file, or None. Never opens it."""
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > limit:
        return f"{info.st_size} bytes is over the limit of {limit}"
    if not os.access(real, os.R_OK):
        return "cannot read: permission denied"
    return None


def file_problems(scene: Scene, scene_path: str | Path, audio_folders: tuple[str | Path, ...] = ()) -> list[tuple[tuple, str]]:
    """Every file the scene names that it may not use: outside its folder, missing, not a file, too big."""
    from mrtd.style.pca import PCAFileError, load_pca

    problems: list[tuple[tuple, str]] = []
    named: list[tuple[tuple, str, int, tuple]] = []
    if scene.pca:
        named.append((("pca",), scene.pca, MAX_PCA_BYTES, ()))
    for name, prompt in scene.prompts.items():
        if prompt.audio is not None:
            named.append((("prompts", name, "audio"), prompt.audio, MAX_AUDIO_BYTES, audio_folders))
    for where, name, limit, folders in named:
        try:
            real = referenced_file(scene_path, name, folders)
        except ValueError as exc:
            problems.append((where, str(exc)))
            continue
        reason = _check_file(real, limit)
        if reason is None and where == ("pca",):
            try:
                load_pca(real)
            except PCAFileError as exc:
                reason = "not a usable PCA file" + (f" ({str(exc).rsplit(': ', 1)[-1]})" if "shape" in str(exc) or "component" in str(exc) else "")
        if reason is not None:
            problems.append((where, f"{name!r}: {reason}"))
    return problems


def load_scene(path: str | Path, folder: str | Path | None = None, audio_folders: tuple[str | Path, ...] = ()) -> Scene:
    """Read and check the scene at `path`, which must lie inside `folder` (default: its own folder)."""
    path = Path(path)
    real = _real_inside(Path(folder) if folder is not None else path.parent, path)
    if real is None:
        raise SceneError(str(path), [f"{path}: leads outside the scene folder (a symlink?)"])
    return load_yaml(real, Scene, lambda scene: _checks(scene, path, audio_folders), SceneError, display=str(path))


def _checks(scene: Scene, path: Path, audio_folders: tuple[str | Path, ...]) -> list[tuple[tuple, str]]:
    return scene.check_references() + file_problems(scene, path, audio_folders)


def parse_scene(text: str, filename: str = "<scene>") -> Scene:
    """Check `text` as a scene file (no files around it: `pca:` and `audio:` are not looked at)."""
    return parse_yaml(text, filename, Scene, lambda scene: scene.check_references(), SceneError)


def json_schema() -> dict[str, Any]:
    """The scene schema for editors (YAML language servers read JSON Schema)."""
    schema = Scene.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mrtd scene"
    return schema
