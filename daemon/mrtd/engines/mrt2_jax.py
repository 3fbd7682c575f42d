"""The `mrt2` engine on JAX: the official `MagentaRT2System`'s streaming step, frame by frame.

The second backend of the mrt2 engine (engines/backends.py chooses): where MLX steps the exported
`.mlxfn`, this one drives the official library's own JAX system (magenta-rt 2.0.x, the `jax`
extra; NVIDIA GPUs with `pip install "jax[cuda12]"`). It copies no model code: the system builds
the sampler from the checkpoint (engines/jax_checkpoint.py) and AOT-compiles its per-frame
`streaming_step(params, x, constants, state)` (`jax.jit`, the state donated); this engine calls
that very compiled function once per 40 ms frame and threads the state.

What it reads of the system is not public API (`_jit_streaming_step`, `_jit_init_state`,
`_params`, `_build_conditioning`): the public `generate()` rebuilds and uploads the conditioning
and logs on every call, which a live frame must not. `_SYSTEM_PARTS` names them and a missing one
is a ModelError naming the library version, not a crash at the first frame. The tests compare
this engine with `generate()` token for token, state for state.

How the JAX system conditions, and where that differs from the MLX export (on purpose: this
backend follows the JAX system):
- Guidance: the three scales reach the model only as conditioning tokens (`discretize_cfg`,
  bins of 0.2 for style and notes, 1.0 for drums, after the 141 style/note/drum slots). The
  MLX export also runs classifier-free guidance, a batch of 3 with the style and the notes
  masked (`neg_musiccoca`, `neg_notes`) mixed by the same scales; the JAX system has no such
  batch. Same conditioning, different music from the two backends, and a third of the work.
- The RNG: the system's initial state holds the key of `PRNGKey(0)`; seed rotation (at reset,
  as the MLX engine) replaces it with `PRNGKey(42 + i + rotation)`, the official engine's rule.
- No forced tokens: the JAX streaming step has no `forced_tokens` input, so prefill (from
  silence or audio) is not offered here (`prefill_*` raise ModelError saying so). Teacher
  forcing by writing the token frame into the decoder's previous-frame slot before each step
  would fill the temporal transformer's cache, but the SpectroStream decoder inside the same
  step would decode the sampled tokens, not the forced ones: its streaming state would not be
  the official one. That needs a forced-token input in the official system.

A live daemon's JAX habits: no whole-GPU preallocation (jax_checkpoint.official()), the
compile happens once, at load, and goes to JAX's persistent compilation cache (the cache
folder's `jax/`) so a restart loads the compiled step instead of compiling again; the
conditioning is uploaded only when it changes; per frame the one host transfer is the audio.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from mrtd.conditioning import MASKED, NOTE_SLOTS, STYLE_TOKENS, Conditioning
from mrtd.engines.base import BaseEngine
from mrtd.engines.state import StateCapture, StateError
from mrtd.engines.jax_checkpoint import (architecture, checkpoint_path, checkpoint_source, device_description,
                                         official)
from mrtd.engines.mrt2 import (DEFAULT_MODEL, follow_seed, judge_warm_up, RNG_SEED_BASE, WARMUP_STEPS, ModelError,
                               resolve_magenta_home)
from mrtd.frame import FRAME_SECONDS

log = logging.getLogger(__name__)

INT16_SCALE = np.float32(1.0 / 32768.0)  # the system's audio is int16; 2^-15 is exact, as /32768 is
COND_LEN = STYLE_TOKENS + NOTE_SLOTS + 1  # style, notes, drums (the system appends the guidance tokens)
_SYSTEM_PARTS = ("_jit_streaming_step", "_jit_init_state", "_params", "_build_conditioning")


class _NoStyleModel:
    """The system's MusicCoCa slot: mrtd hands the system tokens, never text or audio."""

    def __getattr__(self, name: str) -> Any:
        raise ModelError("the jax engine embeds no style itself: mrtd's style layer sends tokens")


def default_compile_cache() -> Path:
    """`$XDG_CACHE_HOME/mrtd/jax` (~/.cache/mrtd/jax), beside the embedding cache."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mrtd" / "jax"


def enable_compile_cache(folder: Path | None) -> str:
    """Point JAX's persistent compilation cache at `folder` (once per process; a folder the user gave
    JAX, JAX_COMPILATION_CACHE_DIR, wins). Returns the folder in use, "" when there is none."""
    import jax

    current = getattr(jax.config, "jax_compilation_cache_dir", None)  # a folder the user gave JAX
    if current or folder is None:
        return str(current or "")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(folder))
    except (OSError, RuntimeError, ValueError) as exc:  # unwritable: compile each start, say so once
        log.warning("no JAX compilation cache at %s (%s): the step compiles at every start", folder, exc)
        return ""
    return str(folder)


class Mrt2JaxEngine(BaseEngine):
    """The official JAX system's compiled streaming step, its state threaded frame to frame."""

    name = "mrt2"
    backend = "jax"

    def __init__(self, model: str | None = None, magenta_home: str | os.PathLike | None = None, seed: int = 0,
                 warmup_steps: int = WARMUP_STEPS, compile_cache: Path | None = None) -> None:
        super().__init__()
        self.model = model or DEFAULT_MODEL
        self.home = resolve_magenta_home(magenta_home)
        self.checkpoint_path = checkpoint_path(self.model, self.home)
        self.warmup_steps = max(1, warmup_steps)
        self.frames_late = 0  # steps longer than one 40 ms frame
        self.realtime_warning: str | None = None
        self.warmup_p99_ms = 0.0
        self.prefilled_frames = 0  # always 0: no prefill on this backend (see the module's note)
        self.seed_rotation = int(seed)  # 0: the system's own key; applied at reset
        self._last_conditioning_seed = int(seed)
        # The conditioning as sent (-1 masked), compared each frame: the system builds and the
        # device receives a new block only when something changed.
        self._cond = np.full(COND_LEN, MASKED, dtype=np.int32)
        self._cond_seen = np.full(COND_LEN, -1000, dtype=np.int32)  # forces the first upload
        self._scalars_seen: tuple[float, int, float, float, float] | None = None
        self._closed = False
        if not self.checkpoint_path.is_file():
            raise ModelError(f"mrt2 model {self.model!r} (jax): missing checkpoint {self.checkpoint_path}; "
                             f"the official `mrt checkpoints download` fetches it, or rehearse with "
                             f"`mrtd models install {self.model} --random-weights --backend jax`")
        self.source = checkpoint_source(self.checkpoint_path)
        system_module = official()  # first: without JAX, the error names the extra
        self.compile_cache = enable_compile_cache(default_compile_cache() if compile_cache is None else compile_cache)
        self._load(system_module)

    # -- loading ---------------------------------------------------------------------------
    def _load(self, system_module: Any) -> None:
        import jax

        self._jax = jax
        size = architecture(self.model, self.checkpoint_path)
        try:
            # Loads the weights and compiles the step (from the persistent cache after the first start).
            system = system_module.MagentaRT2System(size=size, style_model=_NoStyleModel(),
                                                    checkpoint=str(self.checkpoint_path))
        except ModelError:
            raise
        except Exception as exc:  # a checkpoint for another architecture, a damaged file: one line, the file named
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ModelError(f"mrt2 model {self.model!r} (jax): the official system cannot load "
                             f"{self.checkpoint_path}: {type(exc).__name__}: {first}"[:400]) from exc
        missing = [part for part in _SYSTEM_PARTS if not hasattr(system, part)]
        if missing:
            from importlib import metadata

            raise ModelError(f"magenta-rt {metadata.version('magenta-rt')}'s JAX system has no {', '.join(missing)}: "
                             "the jax backend drives magenta-rt 2.0.x (pip install -e '.[jax]')")
        self._system = system
        self._streaming_step = system._jit_streaming_step
        self._params = system._params
        self._checkpoint = system._jit_init_state(system._params, {})  # never stepped: the step donates its state
        self._rng_index = self._find_rng_key(self._checkpoint)
        self._upload(Conditioning())
        self._state = self._fresh_state()

    def _find_rng_key(self, state: Any) -> int | None:
        """The sampler's RNG key: the only uint32 state array whose last dimension is 2 (as in MLX)."""
        leaves = self._jax.tree.leaves(state)
        found = [i for i, a in enumerate(leaves) if a.dtype == np.uint32 and a.ndim and a.shape[-1] == 2]
        if len(found) != 1:
            log.warning("mrt2 %s (jax): %d uint32 [...,2] state arrays, expected one RNG key; seed rotation is off",
                        self.model, len(found))
            return None
        return found[0]

    def _fresh_state(self) -> Any:
        """A copy of the checkpoint state on the device, the seed rotation applied."""
        jax = self._jax
        leaves, tree = jax.tree.flatten(self._checkpoint)
        leaves = [jax.numpy.copy(leaf) for leaf in leaves]
        rotation = self.seed_rotation
        if rotation and self._rng_index is not None:
            key = leaves[self._rng_index]
            keys = [jax.random.PRNGKey(RNG_SEED_BASE + i + rotation) for i in range(key.size // 2)]
            leaves[self._rng_index] = jax.numpy.stack(keys).reshape(key.shape).astype(key.dtype)
        elif rotation:
            log.warning("mrt2 %s (jax): seed rotation %d not applied: no RNG key in the state", self.model, rotation)
        return jax.tree.unflatten(tree, leaves)

    # -- stepping ----------------------------------------------------------------------------
    def step(self, conditioning: Conditioning) -> np.ndarray:
        follow_seed(self, conditioning)  # as the MLX engine
        frame = super().step(conditioning)
        self.frames_late += self.last_step_s > FRAME_SECONDS
        return frame

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        self._upload(conditioning)
        output, self._state, _ = self._streaming_step(self._params, self._block, self._constants, self._state)
        audio = np.asarray(output.values)  # the frame's one transfer to the host: int16 [1, 1920, 2], interleaved
        return np.multiply(audio[0], INT16_SCALE, dtype=np.float32)

    def _upload(self, conditioning: Conditioning) -> None:
        """The system's conditioning block and constants, built by the system and put on the device,
        only when the conditioning changed since the last frame."""
        cond = self._cond
        cond[:STYLE_TOKENS] = conditioning.style_tokens
        cond[STYLE_TOKENS:-1] = conditioning.notes
        cond[-1] = conditioning.drums
        scalars = (conditioning.temperature, conditioning.top_k, conditioning.cfg_style, conditioning.cfg_notes,
                   conditioning.cfg_drums)
        if scalars == self._scalars_seen and np.array_equal(cond, self._cond_seen):
            return
        from magenta_rt.config import DRUM_PIANOROLL, MUSICCOCA, PIANOROLL_WITH_ONSETS

        tokens = {MUSICCOCA.key: cond[:STYLE_TOKENS].tolist(), PIANOROLL_WITH_ONSETS.key: cond[STYLE_TOKENS:-1].tolist(),
                  DRUM_PIANOROLL.key: [int(cond[-1])]}
        # The JAX system's guidance: the scales become conditioning tokens, no negative batch (module note).
        scales = {"musiccoca": conditioning.cfg_style, "notes": conditioning.cfg_notes, "drums": conditioning.cfg_drums}
        block, constants = self._system._build_conditioning(tokens, scales, conditioning.temperature, conditioning.top_k)
        self._block, self._constants = self._jax.device_put((block, constants))
        self._cond_seen[:] = cond
        self._scalars_seen = scalars

    # -- warm-up, reset, seed ------------------------------------------------------------------
    def warm_up(self, steps: int | None = None) -> None:
        """Timed throw-away steps (the step compiled at load), then reset; warn when it cannot keep up."""
        super().warm_up(steps or self.warmup_steps)
        judge_warm_up(self)  # as the MLX engine

    def hardware(self) -> str:
        return device_description()

    def reset(self) -> None:
        """Back to the checkpoint state, with the seed rotation applied."""
        self._state = self._fresh_state()

    def rotate_seed(self, rotation: int) -> None:
        """Set the seed rotation (0 = the system's own key); it applies at the next reset."""
        self.seed_rotation = int(rotation)

    @property
    def state(self) -> list[Any]:
        """The current state's arrays, flattened in the system's pytree order (to inspect or compare)."""
        return list(self._jax.tree.leaves(self._state))

    def capture_state(self) -> StateCapture:
        # The state is a pytree of device arrays the compiled step donates (donate_argnums): saving
        # it means copies of bf16 leaves and a tree definition checked on the way back; not done yet.
        raise StateError("the mrt2 engine on the jax backend cannot save its state yet; "
                         "banks and the journal's engine state need the mlx backend")

    def prefill_silence(self, frames: int = 0, live: Conditioning | None = None) -> int:
        raise ModelError("prefill needs forced tokens, which the official JAX system's streaming step does not take "
                         "(engines/mrt2_jax.py); use the mlx backend to prefill")

    def prefill_from_audio(self, audio: np.ndarray, trim_frames: int = 0, live: Conditioning | None = None) -> int:
        return self.prefill_silence(live=live)

    # -- the rest of the contract -----------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Dropping the references frees the device memory (the compiled step, the weights, the state).
        self._system = self._streaming_step = self._params = self._checkpoint = self._state = None

    def describe(self) -> str:
        text = f"mrt2 {self.model} on jax ({self.checkpoint_path})"
        text += " [random weights]" if self.source == "random-weights" else ""
        return text + (" [not real-time]" if self.realtime_warning else "")


def create(**options: Any) -> Mrt2JaxEngine:
    """The engine `create_engine("mrt2", backend="jax", ...)` builds, from the daemon's engine options."""
    return Mrt2JaxEngine(model=options.get("model"), magenta_home=options.get("magenta_home"),
                         seed=options.get("seed", 0) or 0)
