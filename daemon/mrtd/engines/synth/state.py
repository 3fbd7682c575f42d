"""The synth's state for a save: each part's attributes, arrays as arrays, the rest as tagged JSON.

Everything a part carries from frame to frame is state (whatever its `reset` sets); what it
builds once (wavetables, drum one-shots, closed-form constants) and the parts it holds of the
others are not, and are named here. A new attribute is saved without a change here; one of a
type this module cannot write is refused (StateError) the first time a state is saved, which
tests/test_engine_state.py does. Restored values keep their Python and numpy types, so the
next frames are sample for sample those that followed the save.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrtd.engines.state import StateError

# What a part builds once, or holds of another part: not state.
NOT_STATE: dict[str, frozenset[str]] = {
    "composer": frozenset({"_choices", "_pulse", "_voices", "_drums"}),
    "choices": frozenset(),
    "pulse": frozenset(),
    # _events: this frame's gate events, cleared when a frame begins (VoiceBank.begin_frame)
    "voices": frozenset({"_tables", "_table_partials", "_table_ratio", "_voice_stride", "_events"}),
    "drums": frozenset({"_samples", "_choke_ramp", "_hits"}),  # the ringing hits: `_hits` below
    "output": frozenset({"_dc_pow", "_dc_pow_next", "_dc_inv_pow"}),
}
HITS = "_hits"  # DrumHits' ringing one-shots: [sample, position, start, gain L, gain R, chokable]
MAX_HITS = 256  # far more than a kit rings at once; a state with more is not one a synth made


def _value(value: Any) -> Any:
    """A tagged JSON value that decodes to the same type."""
    if value is None:
        return {"none": None}
    if isinstance(value, (bool, np.bool_)):
        return {"b": bool(value)} if isinstance(value, bool) else {"np_b": bool(value)}
    if isinstance(value, np.integer):
        return {"np_i": int(value), "dtype": value.dtype.name}
    if isinstance(value, np.floating):
        return {"np_f": float(value), "dtype": value.dtype.name}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, tuple):
        return {"t": [_value(v) for v in value]}
    if isinstance(value, list):
        return {"l": [_value(v) for v in value]}
    if isinstance(value, np.random.Generator):
        return {"rng": value.bit_generator.state}
    raise StateError(f"the synth cannot save a {type(value).__name__}")


def _decode(tagged: Any) -> Any:
    if not isinstance(tagged, dict) or not tagged:
        raise StateError("the synth state's values are damaged")
    tag, raw = next(iter(tagged.items()))
    if tag == "none":
        return None
    if tag == "b":
        return bool(raw)
    if tag == "np_b":
        return np.bool_(raw)
    if tag in ("np_i", "np_f"):
        dtype = np.dtype(str(tagged.get("dtype")))
        if dtype.kind not in "iuf":
            raise StateError("the synth state's values are damaged")
        return dtype.type(raw)
    if tag == "i" and isinstance(raw, int):
        return int(raw)
    if tag == "f" and isinstance(raw, (int, float)):
        return float(raw)
    if tag in ("t", "l") and isinstance(raw, list):
        items = [_decode(v) for v in raw]
        return tuple(items) if tag == "t" else items
    if tag == "rng" and isinstance(raw, dict) and raw.get("bit_generator") == "PCG64":
        generator = np.random.default_rng(0)
        generator.bit_generator.state = raw
        return generator
    raise StateError("the synth state's values are damaged")


def encode(parts: dict[str, Any], arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
    """Copy each part's state into `arrays` and `values` (keys `part.attribute`)."""
    for name, part in parts.items():
        for attribute, value in vars(part).items():
            if attribute in NOT_STATE[name]:
                continue
            key = f"{name}.{attribute}"
            if isinstance(value, np.ndarray):
                arrays[key] = value.copy()
            else:
                values[key] = _value(value)
    hits = parts["drums"]._hits
    for index, (sample, position, start, left, right, chokable) in enumerate(hits):
        arrays[f"drums.hit.{index}"] = np.array(sample, copy=True)
        values[f"drums.hit.{index}"] = _value([position, start, left, right, chokable])


def shapes(parts: dict[str, Any]) -> list[str]:
    """What a state must match: each array's name, shape and dtype and each other attribute's name."""
    found = []
    for name, part in parts.items():
        for attribute, value in vars(part).items():
            if attribute not in NOT_STATE[name]:
                found.append(f"{name}.{attribute}:{value.shape}:{value.dtype}" if isinstance(value, np.ndarray)
                             else f"{name}.{attribute}")
    return sorted(found)


def decode(parts: dict[str, Any], arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
    """Put a saved state back into the parts: every attribute the parts carry, each of the same
    kind and shape, or StateError (nothing changed)."""
    updates: list[tuple[Any, str, Any]] = []
    expected: set[str] = set()
    for name, part in parts.items():
        for attribute, current in vars(part).items():
            if attribute in NOT_STATE[name]:
                continue
            key = f"{name}.{attribute}"
            expected.add(key)
            if isinstance(current, np.ndarray):
                saved = arrays.get(key)
                # Shapes may differ from a fresh part's (the smoothed descriptors start empty); the
                # fingerprint holds a fresh synth's, so a synth of another build is refused before this.
                if saved is None or saved.ndim != current.ndim or saved.dtype != current.dtype:
                    raise StateError(f"the synth state's {key} is missing or of another kind")
                updates.append((part, attribute, saved.copy()))
            else:
                if key not in values:
                    raise StateError(f"the synth state has no {key}")
                # Its own saved type, which may differ from a fresh part's (an int that numpy made an int64).
                updates.append((part, attribute, _decode(values[key])))
    hit_keys = sorted((k for k in arrays if k.startswith("drums.hit.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if len(hit_keys) > MAX_HITS:
        raise StateError(f"the synth state rings {len(hit_keys)} drum hits, more than {MAX_HITS}")
    hits = []
    for index, key in enumerate(hit_keys):
        if key != f"drums.hit.{index}" or key not in values:
            raise StateError("the synth state's drum hits are damaged")
        position, start, left, right, chokable = _decode(values[key])
        sample = arrays[key].astype(np.float32)
        if sample.ndim != 1 or not 0 <= int(position) <= len(sample):
            raise StateError("the synth state's drum hits are damaged")
        hits.append([sample, position, start, left, right, chokable])
    unknown = set(arrays) - expected - set(hit_keys)
    unknown |= {k for k in values if k not in expected and not k.startswith("drums.hit.")}
    if unknown:
        raise StateError(f"the synth state holds {sorted(unknown)[0]!r}, which this synth does not have")
    for part, attribute, value in updates:
        setattr(part, attribute, value)
    parts["drums"]._hits = hits
