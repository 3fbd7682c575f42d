"""An engine's state as a file: what a continuation needs, as numpy arrays plus metadata, in `.safetensors`.

The official instrument saves its model state the same way (magenta-realtime
core/src/mlx_engine.cpp `save_state`: the live state arrays as `state_N` in a `.safetensors`
file; `load_state` refuses a file whose array count or shapes differ from the live model's).
mrtd's file also says which engine and model wrote it, a fingerprint of that model (the
shapes and dtypes of its state and the identity of its function file), the frames the
engine had made and the mrtd version, so a state from another engine or model is refused
with one clear error before any array reaches the engine.

A state file is untrusted on the way back in (a bank copied from another machine, a write cut
short by a power cut, a hostile file): it is read with a size bound the engine sets (its own
state's size, plus room for the header), parsed by `safetensors` (which checks the header
against the bytes), and checked key by key; anything else is a `StateError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import mrtd

FORMAT = "mrtd-engine-state"
FORMAT_VERSION = "1"
HEADER_ROOM_BYTES = 1 << 20  # the safetensors header and metadata: a few KB for any engine mrtd has


class StateError(ValueError):
    """A state that cannot be saved or loaded; the message says why in one line."""


@dataclass
class EngineState:
    """One engine's state: `arrays` (numpy, by name) and `values` (small JSON-able facts), with the
    identity of what made it: `engine`, `model`, `fingerprint`, and the `frames` it had made."""

    engine: str
    model: str
    fingerprint: str
    frames: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)

    def identity(self) -> str:
        return f"{self.engine} {self.model}".strip()


# What the generation thread hands off: a cheap copy taken at a frame boundary, turned into an
# `EngineState` (numpy arrays) later, on the thread that writes it.
StateCapture = Callable[[], EngineState]


def fingerprint(parts: list[str]) -> str:
    """A short digest of what must match for a state to fit an engine (shapes, dtypes, files)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def file_identity(path: Path, sample_bytes: int = 1 << 20) -> str:
    """A function file's identity without reading all of it (a real model is hundreds of MB):
    its size and a digest of its first and last `sample_bytes`."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as file:
        digest.update(file.read(sample_bytes))
        if size > sample_bytes:
            file.seek(max(sample_bytes, size - sample_bytes))
            digest.update(file.read(sample_bytes))
    return f"{size}:{digest.hexdigest()[:16]}"


def to_bytes(state: EngineState) -> bytes:
    """The state as `.safetensors` bytes, its identity in the metadata."""
    from safetensors.numpy import save

    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "engine": state.engine, "model": state.model,
                "fingerprint": state.fingerprint, "frames": str(int(state.frames)), "mrtd_version": mrtd.__version__,
                "values": json.dumps(state.values)}
    arrays = {name: np.ascontiguousarray(array) for name, array in state.arrays.items()}
    return save(arrays, metadata=metadata)


def from_bytes(data: bytes) -> EngineState:
    """Parse state bytes (untrusted): StateError with one line when they are not an mrtd state."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if len(data) < 8:
        raise StateError("not an mrtd state file (empty or cut short)")
    header_length = int.from_bytes(data[:8], "little")
    if header_length > HEADER_ROOM_BYTES or 8 + header_length > len(data):
        raise StateError("not an mrtd state file (its header is cut short or too large)")
    try:
        header = json.loads(data[8 : 8 + header_length])
        arrays = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"not a readable .safetensors file ({str(exc).splitlines()[0][:120]})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise StateError("a .safetensors file, but not an mrtd engine state (no mrtd metadata)")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise StateError(f"state format {str(metadata.get('format_version'))[:20]!r}; this mrtd reads {FORMAT_VERSION}")
    try:
        frames = int(metadata.get("frames", ""))
        values = json.loads(metadata.get("values", "{}"))
    except ValueError:
        raise StateError("its metadata is damaged (frames or values unreadable)") from None
    if not isinstance(values, dict):
        raise StateError("its metadata is damaged (values is not a table)")
    return EngineState(str(metadata.get("engine", ""))[:40], str(metadata.get("model", ""))[:200],
                       str(metadata.get("fingerprint", ""))[:64], frames, dict(arrays), values)


def read(path: Path, limit_bytes: int) -> EngineState:
    """The state file at `path`, read with a size bound: StateError when missing, too big or not ours."""
    return read_with_digest(path, limit_bytes)[0]


def read_with_digest(path: Path, limit_bytes: int) -> tuple[EngineState, str]:
    """As `read`, with a short digest of the file's bytes: which save it is (a bank saved over
    since has another)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise StateError(f"no state file {path.name}") from None
    except OSError as exc:
        raise StateError(f"{path.name} unreadable ({exc.strerror or exc})") from None
    if size > limit_bytes:
        raise StateError(f"{path.name} is {size} bytes, over the {limit_bytes} this engine's state can take")
    try:
        with open(path, "rb") as file:
            data = file.read(limit_bytes + 1)
    except OSError as exc:
        raise StateError(f"{path.name} unreadable ({exc.strerror or exc})") from None
    if len(data) > limit_bytes:
        raise StateError(f"{path.name} grew past {limit_bytes} bytes while read")
    return from_bytes(data), hashlib.sha256(data).hexdigest()[:16]


def check_fits(state: EngineState, engine: str, model: str, fingerprint_now: str) -> None:
    """StateError unless `state` was made by this engine and model (the same fingerprint)."""
    if state.engine != engine or state.model != model:
        raise StateError(f"the state is from {state.identity() or 'an unknown engine'!r}, "
                         f"this engine is {f'{engine} {model}'.strip()!r}")
    if state.fingerprint != fingerprint_now:
        raise StateError(f"the state is from another build of {f'{engine} {model}'.strip()!r} "
                         f"(fingerprint {state.fingerprint[:16]}, this one {fingerprint_now})")
