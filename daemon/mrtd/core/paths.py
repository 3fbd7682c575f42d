"""File names from the network are names, not paths: they must stay inside a configured folder."""

from __future__ import annotations

from pathlib import Path


def inside(directory: str | Path, name: str, suffix: str = "") -> Path:
    """`directory/name[suffix]`, or ValueError if `name` would escape `directory`."""
    if not name or "\x00" in name or Path(name).is_absolute():
        raise ValueError(f"{name!r} is not a plain name inside {directory}")
    root = Path(directory).expanduser().resolve()
    path = (root / name).resolve()
    if suffix and path.suffix != suffix:
        path = path.with_name(path.name + suffix)
    if not path.is_relative_to(root) or path == root:
        raise ValueError(f"{name!r} is outside {directory}")
    return path
