"""The official JAX checkpoint of an MRT2 model: the library, the file, its architecture, random weights.

The jax backend (engines/mrt2_jax.py) runs `magenta_rt.jax.system.MagentaRT2System`, which reads
one file: `$MAGENTA_HOME/magenta-rt-v2/checkpoints/<model>.safetensors` (what `mrt checkpoints
download` fetches: `mrt2_small.safetensors`, `mrt2_base.safetensors`), the Flax variables of its
`MagentaRT2Sampler` with their nested keys joined by `/` ("params/depthformer/...").

The system builds the architecture of a name in the official `MODEL_REGISTRY` (`mrt2_small`,
`mrt2_base`). A checkpoint with fewer layers (the random-weights rehearsal checkpoints, as the
official exporter's `--num-layers`/`--depth-num-layers` make for MLX) is the same model class
with other layer counts: they are read from the file's own keys, and that variant of the
official class is registered under a derived name (`mrt2_small-L1-D1`) for the system to build.

Nothing here imports JAX at import time (it takes seconds): the paths and the file's header are
read with safetensors alone, and JAX comes with `official()` or the random-weights writer.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any

from mrtd.engines.mrt2 import ASSETS_DIR, SOURCE_UNKNOWN, SOURCES, ModelError, resolve_magenta_home

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
SUFFIX = ".safetensors"
# The install's source rides in the file's own safetensors metadata (the official layout is one file
# per model in a shared folder, with no room for mrtd's marker file; the official loader ignores it).
SOURCE_KEY = "mrtd-source"
LAYER_KEYS = {  # where each transformer's layers live in the flat keys: ".../x_layers_<i>/..."
    "temporal": re.compile(r"^params/depthformer/decoder/temporal_body/transformer/x_layers_(\d+)/"),
    "depth": re.compile(r"^params/depthformer/decoder/depth_body/transformer/x_layers_(\d+)/"),
}
MAX_LISTED = 64  # checkpoint files looked at: a stray folder cannot make a listing endless
INSTALL_JAX = ("the jax backend needs JAX and the official magenta-rt library: pip install -e '.[jax]' "
               "(on NVIDIA add: pip install 'jax[cuda12]')")


# -- the library -------------------------------------------------------------------------


def jax_installed() -> bool:
    """Whether JAX and magenta-rt are installed, without importing them (importing JAX takes seconds)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("jax", "flax", "magenta_rt"))
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken package
        return False


def official() -> Any:
    """`magenta_rt.jax.system`, imported; ModelError naming the extra when JAX or magenta-rt is missing."""
    # JAX grabs 75% of a GPU's memory when its backend starts unless told otherwise: a live daemon
    # shares the GPU (a second engine during a swap, the desktop), so it allocates as it goes.
    # Before JAX initialises, and never over the user's own choice.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    try:
        import magenta_rt.jax.system as system
    except Exception as exc:  # ImportError, or a jaxlib that does not load: one line, the extra named
        raise ModelError(f"{INSTALL_JAX} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    return system


def device_description() -> str:
    """The device JAX steps on, in words: "JAX gpu (NVIDIA H100 80GB HBM3)" or "JAX cpu (CPU x86_64, 2 cores)"."""
    import jax

    from mrtd.engines.realtime import cpu_description

    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"JAX cpu ({cpu_description()})"
    return f"JAX {device.platform} ({getattr(device, 'device_kind', '') or 'unknown device'})"


# -- where checkpoints live --------------------------------------------------------------


def checkpoints_dir(home: str | os.PathLike | None = None) -> Path:
    """`$MAGENTA_HOME/magenta-rt-v2/checkpoints`, where `mrt checkpoints download` puts them."""
    return resolve_magenta_home(home) / ASSETS_DIR / CHECKPOINTS_DIR


def checkpoint_path(model: str, home: str | os.PathLike | None = None) -> Path:
    return checkpoints_dir(home) / f"{model}{SUFFIX}"


def installed_checkpoints(home: str | os.PathLike | None = None) -> list[str]:
    """Model names with a checkpoint file (sorted)."""
    try:
        files = sorted(p for p in checkpoints_dir(home).iterdir() if p.suffix == SUFFIX and p.is_file())
    except OSError:
        return []
    return [p.name[: -len(SUFFIX)] for p in files[:MAX_LISTED]]


def _header(path: Path) -> tuple[list[str], dict[str, str]]:
    """The file's tensor names and metadata, from its header only (safetensors bounds the header)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as file:
            return list(file.keys()), dict(file.metadata() or {})
    except Exception as exc:  # a truncated or foreign file: one line naming it
        raise ModelError(f"{path}: not a safetensors checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from exc


def checkpoint_source(path: Path) -> str:
    """hub | folder | random-weights, from the file's metadata; "unknown" (the official download marks none)."""
    try:
        source = _header(path)[1].get(SOURCE_KEY, SOURCE_UNKNOWN)
    except ModelError:
        return SOURCE_UNKNOWN
    return source if source in SOURCES else SOURCE_UNKNOWN


def layer_counts(keys: list[str]) -> dict[str, int]:
    """How many temporal and depth transformer layers the checkpoint's keys hold."""
    counts = {}
    for part, pattern in LAYER_KEYS.items():
        indices = {int(m.group(1)) for m in map(pattern.match, keys) if m}
        counts[part] = max(indices) + 1 if indices else 0
    return counts


def base_model(model: str, registry: dict[str, Any]) -> str:
    """The official registry name `model` is a variant of: itself, or the longest name it starts with."""
    matches = [name for name in registry if model == name or model.startswith(name)]
    if not matches:
        raise ModelError(f"mrt2 model {model!r}: the jax backend builds {', '.join(sorted(registry))} "
                         "(or a name starting with one); no official architecture matches this name")
    return max(matches, key=len)


def variant_class(base: Any, temporal_layers: int | None, depth_layers: int | None) -> Any:
    """The official model class `base` with other layer counts (None: its own)."""
    import dataclasses

    temporal = temporal_layers or base.decoder_temporal_size.num_layers
    depth = depth_layers or base.decoder_depth_size.num_layers
    if (temporal, depth) == (base.decoder_temporal_size.num_layers, base.decoder_depth_size.num_layers):
        return base
    return type(f"{base.__name__}L{temporal}D{depth}", (base,), {
        "decoder_temporal_size": dataclasses.replace(base.decoder_temporal_size, num_layers=temporal),
        "decoder_depth_size": dataclasses.replace(base.decoder_depth_size, num_layers=depth),
    })


def architecture(model: str, path: Path) -> str:
    """The registry name `MagentaRT2System(size=...)` builds for this checkpoint: the official one when its
    layer counts are the class's, else a variant registered under `<base>-L<temporal>-D<depth>`."""
    from magenta_rt.jax import model as models

    registry = models.MODEL_REGISTRY
    base = base_model(model, registry)
    counts = layer_counts(_header(path)[0])
    if not counts["temporal"] or not counts["depth"]:
        raise ModelError(f"{path}: no transformer layers in its keys (expected params/depthformer/decoder/"
                         "temporal_body/... and depth_body/...): not an MRT2 JAX checkpoint")
    cls = variant_class(registry[base], counts["temporal"], counts["depth"])
    if cls is registry[base]:
        return base
    name = f"{base}-L{counts['temporal']}-D{counts['depth']}"
    registry.setdefault(name, cls)  # the system accepts only registry names; the same variant is registered once
    return name


# -- random weights ----------------------------------------------------------------------


def write_random_checkpoint(path: Path, model: str = "mrt2_small", num_layers: int | None = None,
                            depth_num_layers: int | None = None, seed: int = 42) -> int:
    """The official architecture's own random initialisation, written as the official checkpoint
    format (the tests and rehearsals need no download). Returns the number of parameters.

    The sampler is configured as `MagentaRT2System.__init__` configures it (the model class's
    depthformer config, the generic 40 ms SpectroStream config) and initialised through one
    streaming step, so every variable the system's step reads exists. Random weights make
    near-silent audio; the tokens and the state are what they are good for."""
    system = official()
    import flax.linen as nn
    import flax.traverse_util as traverse
    import jax
    import jax.numpy as jnp
    import numpy as np
    import safetensors.numpy
    import sequence_layers.jax as sl
    from magenta_rt.jax import model as models
    from magenta_rt.jax import spectrostream

    registry = models.MODEL_REGISTRY
    spec = variant_class(registry[base_model(model, registry)], num_layers, depth_num_layers)()
    sampler = system.MagentaRT2Sampler.Config(
        depthformer=spec.depthformer_config(),
        spectrostream=spectrostream.stft_spectrostream_40ms_generic_48khz_stereo_config(
            rvq_truncation_level=spec.spectrostream.rvq_truncation_level, use_unique_codes=False),
    ).make()
    channels = sum(c.rvq_truncation_level for c in spec.input_configs)
    masked = sl.Sequence.from_values(np.full((1, 1, channels), system.NUM_RESERVED_TOKENS, np.int32))
    constants = {"temperature": jnp.array([1.0]), "top_k": jnp.array([40], dtype=jnp.int32)}

    def one_step(module: Any) -> Any:
        state = module.get_initial_state(1, jax.ShapeDtypeStruct([channels], jnp.int32), training=False, constants={})
        return module.step_with_emits(masked, state, training=False, constants=constants)

    rngs = {"params": jax.random.PRNGKey(seed), "random": jax.random.PRNGKey(0)}
    variables = nn.meta.unbox(jax.jit(lambda: sampler.init(rngs, method=one_step))())
    flat = {key: np.asarray(value) for key, value in traverse.flatten_dict(variables, sep="/").items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.numpy.save_file(flat, str(path), metadata={SOURCE_KEY: "random-weights", "mrtd-model": model})
    return int(sum(value.size for value in flat.values()))
