"""PCA files in the official MRT2 format.

A PCA file is safetensors holding `component_0` .. `component_5` (768-d
each; the official engine needs at least `component_0` and reads up to six,
in order), plus any other 768-d key as a named centroid: a point in style
space usable as a prompt. Keys of any other size (such as
`explained_variance`) are ignored, as the official engine ignores them.
Centroid names are lower-cased, as the official engine does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM

MAX_COMPONENTS = 6
COMPONENT_PREFIX = "component_"


class PCAFileError(ValueError):
    """A PCA file that cannot be used, with the reason."""


@dataclass
class PCAFile:
    components: list[np.ndarray]  # float32 [768] each, index = axis number
    centroids: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float32 [768]


def load_pca(path: str | os.PathLike) -> PCAFile:
    """Read a PCA file; PCAFileError names what is wrong (missing or misshapen components)."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise PCAFileError(f"PCA file not found: {path}")
    try:
        tensors = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for bad headers
        raise PCAFileError(f"{path} is not a readable safetensors file: {error}") from error

    numbers = sorted(
        int(key[len(COMPONENT_PREFIX):])
        for key in tensors
        if key.startswith(COMPONENT_PREFIX) and key[len(COMPONENT_PREFIX):].isdigit()
    )
    numbers = [n for n in numbers if n < MAX_COMPONENTS]
    if not numbers or numbers[0] != 0:
        raise PCAFileError(f"{path} has no {COMPONENT_PREFIX}0: a PCA file needs at least one component")
    if numbers != list(range(len(numbers))):
        gap = next(i for i, n in enumerate(numbers) if n != i)
        raise PCAFileError(
            f"{path} has {COMPONENT_PREFIX}{numbers[gap]} but not {COMPONENT_PREFIX}{gap}: "
            "components must be numbered without gaps"
        )
    components = [_as_embedding(tensors[f"{COMPONENT_PREFIX}{n}"], path, f"{COMPONENT_PREFIX}{n}") for n in numbers]

    centroids: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        if key.startswith(COMPONENT_PREFIX) or value.size != EMBEDDING_DIM:
            continue
        centroids[key.lower()] = _as_embedding(value, path, key)
    return PCAFile(components, centroids)


def save_pca(path: str | os.PathLike, components: list[np.ndarray], centroids: dict[str, np.ndarray] | None = None) -> None:
    """Write a PCA file in the official format (atomically: a reader never sees half a file)."""
    from safetensors.numpy import save_file

    path = Path(path)
    if not 1 <= len(components) <= MAX_COMPONENTS:
        raise PCAFileError(f"a PCA file holds 1 to {MAX_COMPONENTS} components, got {len(components)}")
    tensors = {f"{COMPONENT_PREFIX}{i}": _as_embedding(c, path, f"{COMPONENT_PREFIX}{i}") for i, c in enumerate(components)}
    for name, value in (centroids or {}).items():
        if name.startswith(COMPONENT_PREFIX):
            raise PCAFileError(f"centroid name {name!r} would be read back as a component")
        tensors[name] = _as_embedding(value, path, name)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(temporary))
    os.replace(temporary, path)


def _as_embedding(value: np.ndarray, path: Path, key: str) -> np.ndarray:
    array = np.asarray(value)
    if array.size != EMBEDDING_DIM or array.squeeze().ndim != 1:
        raise PCAFileError(f"{path}: {key} has shape {tuple(array.shape)}, expected ({EMBEDDING_DIM},)")
    array = array.reshape(EMBEDDING_DIM).astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise PCAFileError(f"{path}: {key} holds non-finite values")
    return array
