"""The `mrt2` engine: Magenta RealTime 2's exported MLX streaming function, frame by frame.

DESIGN section 1 is the contract. One call per 40 ms frame:

    fn(cond, temperature, top_k, cfg_musiccoca, cfg_notes, cfg_drums,
       neg_musiccoca, neg_notes, forced_tokens, *state) -> (audio, *new_state)

Threads and MLX streams. Since MLX 0.31.2 a stream belongs to the thread that
made it, and `mx.import_function` binds the imported graph to the first
stream that exists on the device when it is imported. This engine is built on
one thread (the daemon's, or a loader thread for a model swap) and stepped on
another (the generation thread), so the module claims one thread-unsafe
stream per device as early as it can (when it is imported, before anything
else in mrtd touches MLX). Every MLX operation here runs on that stream while
holding `_MLX_LOCK`; the lock is what makes a thread-unsafe stream safe, and
it also keeps the keep-warm timer and a standby engine's warm-up or prefill
from running inside a live step.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from mrtd.conditioning import DRUMS_AUTO, DRUMS_OFF, NOTE_SLOTS, STYLE_TOKENS, Conditioning
from mrtd.engines.base import BaseEngine
from mrtd.engines.encoder_process import EncodeError, EncoderProcess
from mrtd.engines.realtime import cpu_description, slow_model_warning
from mrtd.engines.state import HEADER_ROOM_BYTES, EngineState, StateCapture, StateError, file_identity, fingerprint
from mrtd.frame import CHANNELS, FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

DEFAULT_MODEL = "mrt2_small"
SMALLEST_MODEL = "mrt2_small"
DEFAULT_MAGENTA_HOME = "~/Documents/Magenta"
ASSETS_DIR = "magenta-rt-v2"

# The conditioning vocabulary reserves 7 ids below the real values, so every
# conditioning value is sent +7 and "masked" (-1) becomes 6.
COND_OFFSET = 7
MASK_ID = COND_OFFSET - 1
COND_LEN = STYLE_TOKENS + NOTE_SLOTS + 1  # 141
DRUM_SLOT = STYLE_TOKENS + NOTE_SLOTS  # 140
STATE_START = 9  # cond, temperature, top_k, 3 cfg, 2 negatives, forced_tokens

# Audio-token (SpectroStream RVQ) layout used by prefill.
RVQ_LEVELS = 12
RVQ_VOCAB = 1024
# The decoder's previous-frame slot holds tokens in "unique codes" space:
# code + level * vocab + 6 (the decoder reserves 6 ids, one fewer than the
# conditioning vocabulary, which adds a dropout id).
PREVIOUS_FRAME_OFFSETS = (np.arange(RVQ_LEVELS, dtype=np.int32) * RVQ_VOCAB + (COND_OFFSET - 1)).reshape(1, 1, RVQ_LEVELS)
ENCODER_INPUT_SAMPLES = 28 * SAMPLE_RATE  # the encoder is traced for exactly 28 s
PREFILL_TRIM_FRAMES = 25  # 1 s at each end: encoder warm-up and STFT padding make poor tokens
SILENCE_PREFILL_FRAMES = 550  # what the official apps use
MAX_TOKEN_PREFILL_FRAMES = 1500  # 60 s of tokens: three times the model's 500-frame (20 s) context
RNG_SEED_BASE = 42  # the official engine rotates seeds as key(42 + i + rotation)

AUDIO_SHAPE = (1, CHANNELS, FRAME_SAMPLES)
INT16_SCALE = 1.0 / 32768.0
FRAME_MS = FRAME_SECONDS * 1000.0
WARMUP_STEPS = 10
KEEP_WARM_INTERVAL_S = 0.002


class ModelError(ValueError):
    """The model cannot be used; the message names the file or the mismatch in one line."""


# -- MLX, claimed once per process ------------------------------------------

_MLX_LOCK = threading.RLock()
PREFILL_YIELD_S = 0.0005  # between prefill steps, so the live step gets the lock (locks are not fair)
_mx: Any = None
_mlx_import_error: str | None = None
_shared_streams: dict[str, Any] = {}


def _claim_mlx() -> None:
    """Import MLX and make the shared, thread-unsafe streams before any other stream exists."""
    global _mx, _mlx_import_error
    if _mx is not None or _mlx_import_error is not None:
        return
    try:
        import mlx.core as mx
    except Exception as exc:  # plain `mlx` on Linux raises at import: say so, do not crash
        _mlx_import_error = f"{type(exc).__name__}: {exc}"
        return
    with _MLX_LOCK:
        _shared_streams["cpu"] = mx.new_thread_unsafe_stream(mx.cpu)
        if mx.is_available(mx.gpu):
            _shared_streams["gpu"] = mx.new_thread_unsafe_stream(mx.gpu)
        _mx = mx


_claim_mlx()


def mlx_core() -> Any:
    """`mlx.core`, with mrtd's shared streams claimed; ModelError if MLX cannot be imported."""
    _claim_mlx()
    if _mx is None:
        raise ModelError(f"MLX is not importable ({_mlx_import_error}); install mrtd's MLX backend: pip install -e '.[cpu]' "
                         "(or '.[cuda12]'/'.[cuda13]' on NVIDIA, in a venv without cpu)")
    return _mx


def shared_stream() -> Any:
    """The thread-unsafe stream of MLX's default device (use it only under `mlx_session`)."""
    mx = mlx_core()
    return _shared_streams["gpu" if mx.default_device() == mx.gpu and "gpu" in _shared_streams else "cpu"]


@contextmanager
def mlx_session() -> Iterator[Any]:
    """Run MLX work on the shared stream, one thread at a time."""
    mx = mlx_core()
    stream = shared_stream()
    with _MLX_LOCK, mx.stream(stream):
        yield mx


def device_description() -> str:
    """The device MLX steps on, in words: "MLX gpu (cuda: NVIDIA H100 ...)" or "MLX cpu (CPU x86_64, 2 cores)"."""
    mx = mlx_core()
    device = mx.default_device()
    if device == mx.gpu:
        backend = "cuda" if getattr(getattr(mx, "cuda", None), "is_available", lambda: False)() else "metal"
        try:
            name = mx.device_info().get("device_name", "")
        except Exception:  # older MLX: no device_info
            name = ""
        return f"MLX gpu ({backend}{': ' + name if name else ''})"
    return f"MLX cpu ({cpu_description()})"


def read_model_file(path: Path) -> bytes:
    """A model file's bytes, read without any MLX lock held (tests slow this down to play a slow disk)."""
    return path.read_bytes()


# -- where the assets live ---------------------------------------------------


def resolve_magenta_home(explicit: str | os.PathLike | None = None) -> Path:
    """`explicit`, else $MAGENTA_HOME, else ~/Documents/Magenta."""
    chosen = explicit or os.environ.get("MAGENTA_HOME") or DEFAULT_MAGENTA_HOME
    return Path(chosen).expanduser()


def models_dir(home: str | os.PathLike | None = None) -> Path:
    """`$MAGENTA_HOME/magenta-rt-v2/models`: one folder per model, named as the model."""
    return resolve_magenta_home(home) / ASSETS_DIR / "models"


def resources_dir(home: str | os.PathLike | None = None) -> Path:
    """`$MAGENTA_HOME/magenta-rt-v2/resources`: MusicCoCa's and SpectroStream's folders."""
    return resolve_magenta_home(home) / ASSETS_DIR / "resources"


def model_files(folder: Path, name: str) -> tuple[Path, Path]:
    """(`<name>.mlxfn`, `<name>_state.safetensors`) inside a model's folder."""
    return folder / f"{name}.mlxfn", folder / f"{name}_state.safetensors"


def model_paths(model: str | None = None, home: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(`<name>.mlxfn`, `<name>_state.safetensors`) for a model name."""
    name = model or DEFAULT_MODEL
    return model_files(models_dir(home) / name, name)


ENCODER_FILE = "spectrostream_encoder.mlxfn"


# What installed a model: `mrtd models install` leaves this marker in the model's folder.
# Untrusted (a folder copied from anywhere): read at most SOURCE_MAX_BYTES, and anything
# but a known word is "unknown" (installed by hand or by the official tool, which writes none).
SOURCE_FILE = "mrtd-source.json"
SOURCE_MAX_BYTES = 4096
SOURCES = ("hub", "folder", "random-weights")
SOURCE_UNKNOWN = "unknown"
SOURCE_WORDS = {"hub": "downloaded", "folder": "from a folder", "random-weights": "random weights",
                SOURCE_UNKNOWN: "source unknown"}
MAX_LISTED_MODELS = 64  # folders looked at under models/: a stray tree cannot make a listing endless


def model_source(folder: Path) -> str:
    """The model folder's source ("hub", "folder", "random-weights"), or "unknown" without a readable marker."""
    import json

    try:
        with open(folder / SOURCE_FILE, "rb") as file:
            raw = file.read(SOURCE_MAX_BYTES + 1)
        if len(raw) > SOURCE_MAX_BYTES:
            return SOURCE_UNKNOWN
        source = json.loads(raw.decode("utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return SOURCE_UNKNOWN
    return source if source in SOURCES else SOURCE_UNKNOWN


def installed_models(home: str | os.PathLike | None = None) -> list[str]:
    """Names of the model folders under `models/` holding either of a model's two files (sorted;
    a folder with one of them is listed, so a half-installed model is reported, not hidden)."""
    root = models_dir(home)
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())[:MAX_LISTED_MODELS]
    except OSError:
        return []
    return [f.name for f in folders if any(p.is_file() for p in model_paths(f.name, home))]


def encoder_path(home: str | os.PathLike | None = None) -> Path:
    return resources_dir(home) / "spectrostream" / ENCODER_FILE


def assets_present(model: str | None = None, magenta_home: str | os.PathLike | None = None) -> bool:
    """True when the model's two files exist and MLX imports (what `engine: auto` asks)."""
    function_path, state_path = model_paths(model, magenta_home)
    if not (function_path.is_file() and state_path.is_file()):
        return False
    if _mx is None:
        log.warning("mrt2 assets found under %s but MLX is not importable (%s)", function_path.parent, _mlx_import_error)
        return False
    return True


# -- checking what the function expects ---------------------------------------

_SIGNATURE_RE = re.compile(r"Function with (\d+) positional inputs")
_INPUT_RE = re.compile(r"^\s+(\d+): \(([\d,]*)\) (\w+)\s*$")


def _expected_signatures(message: str) -> list[list[tuple[tuple[int, ...], str]]]:
    """Parse MLX's "no imported function matches" message into [(shape, dtype), ...] per signature."""
    signatures: list[list[tuple[tuple[int, ...], str]]] = []
    in_expected = False
    for line in message.splitlines():
        if "Possible functions include" in line:
            in_expected = True
            continue
        if line.startswith("Called with"):
            break
        if not in_expected:
            continue
        if _SIGNATURE_RE.search(line):
            signatures.append([])
            continue
        match = _INPUT_RE.match(line)
        if match and signatures:
            shape = tuple(int(d) for d in match.group(2).split(",") if d)
            signatures[-1].append((shape, match.group(3)))
    return signatures


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _fmt_shape(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _slot_codes(mx: Any, slot: Any) -> Any:
    """The previous-frame slot's 12 unique codes (its first CFG slice), as int32: what tokens out
    reads (less PREVIOUS_FRAME_OFFSETS), lazily, to be evaluated with whatever else is."""
    return slot.astype(mx.int32).reshape(-1)[:RVQ_LEVELS]


class Mrt2Engine(BaseEngine):
    """The exported MRT2 step function with its state threaded frame to frame."""

    name = "mrt2"
    backend = "mlx"  # engines/backends.py: the other is jax (engines/mrt2_jax.py)

    def __init__(
        self,
        model: str | None = None,
        magenta_home: str | os.PathLike | None = None,
        seed: int = 0,
        keep_warm: bool = False,
        keep_warm_interval: float = KEEP_WARM_INTERVAL_S,
        warmup_steps: int = WARMUP_STEPS,
    ) -> None:
        super().__init__()
        self.model = model or DEFAULT_MODEL
        self.model_name = self.model  # a saved state belongs to it
        self._state_fingerprint = ""  # computed on first use: it reads the function file's ends
        self.home = resolve_magenta_home(magenta_home)
        self.function_path, self.state_path = model_paths(self.model, self.home)
        self.source = model_source(self.function_path.parent)  # what installed it (random weights are marked)
        self.warmup_steps = max(1, warmup_steps)
        self.keep_warm = keep_warm
        self.keep_warm_interval = keep_warm_interval
        self.frames_late = 0  # steps longer than one 40 ms frame
        self.realtime_warning: str | None = None
        self.warmup_p99_ms = 0.0
        self.keep_warm_ticks = 0
        self.prefilled_frames = 0  # token frames fed by the last prefill (0: factory checkpoint)
        self.prefilled_with: Conditioning | None = None

        # Seed rotation (0 = the key in the checkpoint) applies at reset.
        self.seed_rotation = int(seed)
        self._last_conditioning_seed = int(seed)

        # Preallocated per-frame buffers: conditioning is written in place and only
        # re-uploaded to MLX when it changed; the frame buffer is returned every step.
        self._cond = np.full((1, 1, COND_LEN), MASK_ID, dtype=np.int32)
        self._neg_style = self._cond.copy()
        self._neg_notes = self._cond.copy()
        self._cond_seen = np.full(COND_LEN, -1000, dtype=np.int32)  # forces the first upload
        self._scalars_seen: tuple[float, int, float, float, float] | None = None
        # Tokens out: the raw audio tokens of the last frames made (a ring of MAX_TOKEN_PREFILL_FRAMES,
        # the most a tokens prefill takes back), since the last reset; an input's thread copies it
        # (`tokens_made`), so a row is written under the lock (uncontended but for that copy).
        self._made_tokens = np.zeros((MAX_TOKEN_PREFILL_FRAMES, RVQ_LEVELS), dtype=np.int32)
        self._made_count = 0
        self._made_lock = threading.Lock()

        self._keep_warm = Worker(f"mrtd-keepwarm-{self.model}", self._keep_warm_loop)
        self._closed = False

        self._load()

    # -- loading -------------------------------------------------------------
    def _load(self) -> None:
        for path in (self.function_path, self.state_path):
            if not path.is_file():
                raise ModelError(f"mrt2 model {self.model!r}: missing file {path}")
        # The file reads (hundreds of MB for a real model, slow on an SD card) happen before
        # taking the lock a playing engine steps under: a swap or prefill must not stall the music.
        # import_function takes only a path, so its file is read once here into the page cache.
        try:
            read_model_file(self.function_path)
            state_bytes = read_model_file(self.state_path)
        except OSError as exc:
            raise ModelError(f"mrt2 model {self.model!r}: cannot read its files: {exc}") from exc
        with mlx_session() as mx:
            try:
                # Called as imported. The official engine wraps it in `mx::compile`
                # (core/src/mlx_engine.cpp `load_model`); on a 2-core x86 CPU that made no
                # difference to mrt2_small (2,801 vs 2,814 ms median per frame, measured), so
                # mrtd keeps the plain call. Unmeasured on a GPU, where fusing could matter.
                self._fn = mx.import_function(str(self.function_path))
            except Exception as exc:
                raise ModelError(f"mrt2 model {self.model!r}: cannot import {self.function_path}: {exc}") from exc
            try:
                arrays = mx.load(io.BytesIO(state_bytes), format="safetensors")
            except Exception as exc:
                raise ModelError(f"mrt2 model {self.model!r}: cannot read {self.state_path}: {exc}") from exc
            self._factory_state = self._ordered_state(arrays)
            mx.eval(self._factory_state)
            self._fixed_args(mx)
        self._checkpoint = list(self._factory_state)
        self._state = list(self._checkpoint)
        self._rng_index = self._find_rng_key()
        self._previous_frame_index = self._find_previous_frame_slot()
        self._args: list[Any] = [None] * (STATE_START + len(self._state))
        self._args[8] = self._no_forced_tokens
        self._check_signature()

    def _ordered_state(self, arrays: dict[str, Any]) -> list[Any]:
        """state_0..state_N in numeric order; every other key is refused."""
        indices: dict[int, Any] = {}
        for key, value in arrays.items():
            match = re.fullmatch(r"state_(\d+)", key)
            if match is None:
                raise ModelError(f"{self.state_path}: unexpected key {key!r} (expected state_0..state_N)")
            indices[int(match.group(1))] = value
        if not indices:
            raise ModelError(f"{self.state_path}: no state_N arrays")
        missing = sorted(set(range(max(indices) + 1)) - set(indices))
        if missing:
            raise ModelError(f"{self.state_path}: state_{missing[0]} is missing (keys must run state_0..state_N)")
        return [indices[i] for i in range(len(indices))]

    def _fixed_args(self, mx: Any) -> None:
        self._no_forced_tokens = mx.zeros((1, 0, RVQ_LEVELS), dtype=mx.int32)
        self._int16_scale = mx.array(INT16_SCALE, dtype=mx.float32)
        self._warm_a = mx.array([0.0])
        self._warm_b = mx.array([0.0])
        mx.eval(self._no_forced_tokens, self._warm_a, self._warm_b)

    def _find_rng_key(self) -> int | None:
        """The RNG key is the only uint32 state array whose last dimension is 2."""
        mx = mlx_core()
        matches = [i for i, a in enumerate(self._state) if a.dtype == mx.uint32 and a.ndim and a.shape[-1] == 2]
        if len(matches) != 1:
            log.warning("mrt2 %s: found %d uint32 [...,2] state arrays, expected one RNG key; seed rotation is off",
                        self.model, len(matches))
            return None
        return matches[0]

    def _find_previous_frame_slot(self) -> int | None:
        """The decoder's previous-frame tokens: the last state shaped [1,1,12] or [1,C,1,12]."""
        found = None
        for i, array in enumerate(self._state):
            shape = tuple(array.shape)
            if (len(shape) == 3 and shape[:2] == (1, 1) and shape[2] == RVQ_LEVELS) or (
                len(shape) == 4 and shape[0] == 1 and shape[2] == 1 and shape[3] == RVQ_LEVELS
            ):
                found = i
        return found

    def _check_signature(self) -> None:
        """One probe call: the inputs it takes, the outputs it gives, and their shapes."""
        self._write_conditioning(Conditioning())
        self._upload_conditioning(Conditioning(), force=True)
        n_state = len(self._state)
        with mlx_session() as mx:
            self._args[STATE_START:] = self._state
            try:
                outputs = self._fn(*self._args)
                mx.eval(outputs)
            except ValueError as exc:
                raise self._signature_error(str(exc)) from exc
            except RuntimeError as exc:
                if "no Stream" in str(exc):
                    raise ModelError(
                        f"mrt2 model {self.model!r}: MLX bound the function to a stream of another thread; "
                        "import mrtd.engines.mrt2 before any other MLX use"
                    ) from exc
                raise ModelError(f"mrt2 model {self.model!r}: the probe step failed: {exc}") from exc
        if len(outputs) != 1 + n_state:
            raise ModelError(
                f"mrt2 model {self.model!r}: wrong signature: {self.function_path.name} returns {len(outputs)} outputs, "
                f"expected 1 audio + {n_state} state arrays (from {self.state_path.name})"
            )
        if tuple(outputs[0].shape) != AUDIO_SHAPE:
            raise ModelError(
                f"mrt2 model {self.model!r}: wrong shapes: audio output is {_fmt_shape(outputs[0].shape)}, "
                f"expected {_fmt_shape(AUDIO_SHAPE)} (planar stereo, one 40 ms frame)"
            )
        for i, (old, new) in enumerate(zip(self._state, outputs[1:])):
            if tuple(old.shape) != tuple(new.shape) or old.dtype != new.dtype:
                raise ModelError(
                    f"mrt2 model {self.model!r}: wrong shapes: output state_{i} is {_fmt_shape(new.shape)} "
                    f"{_dtype_name(new.dtype)}, input was {_fmt_shape(old.shape)} {_dtype_name(old.dtype)}"
                )
        # The probe's outputs are discarded: the engine starts from the checkpoint.

    def _signature_error(self, message: str) -> ModelError:
        expected_count = STATE_START + len(self._state)
        prefix = f"mrt2 model {self.model!r}"
        signatures = _expected_signatures(message)
        if not signatures:
            return ModelError(f"{prefix}: {self.function_path.name} refused the MRT2 arguments: {message.splitlines()[0]}")
        same_count = [s for s in signatures if len(s) == expected_count]
        if not same_count:
            counts = sorted({len(s) for s in signatures})
            return ModelError(
                f"{prefix}: wrong signature: {self.function_path.name} takes {' or '.join(map(str, counts))} inputs, "
                f"MRT2 passes {expected_count} (9 arguments + {len(self._state)} state arrays from {self.state_path.name})"
            )
        expected = same_count[0]
        names = ["cond", "temperature", "top_k", "cfg_musiccoca", "cfg_notes", "cfg_drums", "neg_musiccoca",
                 "neg_notes", "forced_tokens"] + [f"state_{i}" for i in range(len(self._state))]
        for index, (shape, dtype) in enumerate(expected):
            given = self._args[index]
            if index == 8:
                continue  # forced_tokens legitimately has two shapes ([1,0,12] and [1,1,12])
            if tuple(given.shape) != shape or _dtype_name(given.dtype) != dtype:
                where = f" (from {self.state_path.name})" if index >= STATE_START else ""
                return ModelError(
                    f"{prefix}: wrong shapes: {names[index]}{where} is {_fmt_shape(given.shape)} "
                    f"{_dtype_name(given.dtype)}, the function expects {_fmt_shape(shape)} {dtype}"
                )
        return ModelError(f"{prefix}: wrong shapes: {message.splitlines()[0]}")

    # -- stepping --------------------------------------------------------------
    def step(self, conditioning: Conditioning) -> np.ndarray:
        follow_seed(self, conditioning)
        frame = super().step(conditioning)
        self.frames_late += self.last_step_s > FRAME_SECONDS
        return frame

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        """One frame: a read-only view of MLX memory, valid until the next step."""
        self._write_conditioning(conditioning)
        self._upload_conditioning(conditioning)
        args = self._args
        with mlx_session() as mx:
            args[STATE_START:] = self._state
            outputs = self._fn(*args)
            # Planar int16-scale -> interleaved float32 [1920, 2], inside the same evaluation:
            # converting in numpy afterwards costs more (the audio is cold in this core's cache).
            frame = mx.contiguous(outputs[0][0].T.astype(mx.float32) * self._int16_scale)
            slot = self._previous_frame_index
            # This frame's tokens (the previous-frame slot, as `last_tokens` reads it), in the same evaluation.
            tokens = _slot_codes(mx, outputs[1 + slot]) if slot is not None else None
            mx.eval(frame, outputs, *(() if tokens is None else (tokens,)))
            self._state = list(outputs[1:])
            self._frame_mx = frame  # keeps the memory behind the returned view alive
            if tokens is not None:
                with self._made_lock:
                    np.subtract(np.asarray(tokens), PREVIOUS_FRAME_OFFSETS[0, 0],
                                out=self._made_tokens[self._made_count % MAX_TOKEN_PREFILL_FRAMES])
                    self._made_count += 1
        view = np.asarray(frame)
        view.flags.writeable = False
        return view

    def _write_conditioning(self, conditioning: Conditioning) -> None:
        cond = self._cond[0, 0]
        np.add(conditioning.style_tokens, COND_OFFSET, out=cond[:STYLE_TOKENS], casting="unsafe")
        np.add(conditioning.notes, COND_OFFSET, out=cond[STYLE_TOKENS:DRUM_SLOT], casting="unsafe")
        cond[DRUM_SLOT] = conditioning.drums + COND_OFFSET

    def _upload_conditioning(self, conditioning: Conditioning, force: bool = False) -> None:
        """Turn the conditioning into MLX arrays, only for what changed since the last frame."""
        mx = _mx
        cond = self._cond[0, 0]
        if force or not np.array_equal(cond, self._cond_seen):
            self._cond_seen[:] = cond
            self._neg_style[:] = self._cond
            self._neg_style[0, 0, :STYLE_TOKENS] = MASK_ID
            self._neg_notes[:] = self._cond
            self._neg_notes[0, 0, STYLE_TOKENS:DRUM_SLOT] = MASK_ID
            self._args[0] = mx.array(self._cond)
            self._args[6] = mx.array(self._neg_style)
            self._args[7] = mx.array(self._neg_notes)
        scalars = (conditioning.temperature, conditioning.top_k, conditioning.cfg_style, conditioning.cfg_notes,
                   conditioning.cfg_drums)
        if force or scalars != self._scalars_seen:
            self._scalars_seen = scalars
            self._args[1] = mx.array(np.array([conditioning.temperature], dtype=np.float32))
            self._args[2] = mx.array(np.array([conditioning.top_k], dtype=np.int32))
            self._args[3] = mx.array(np.array([conditioning.cfg_style], dtype=np.float32))
            self._args[4] = mx.array(np.array([conditioning.cfg_notes], dtype=np.float32))
            self._args[5] = mx.array(np.array([conditioning.cfg_drums], dtype=np.float32))

    # -- warm-up, keep-warm ----------------------------------------------------
    def warm_up(self, steps: int | None = None) -> None:
        """Timed throw-away steps, then reset; warn plainly when the model cannot keep up."""
        super().warm_up(steps or self.warmup_steps)
        judge_warm_up(self)
        if self.keep_warm:
            self.start_keep_warm()

    def hardware(self) -> str:
        return device_description()

    def start_keep_warm(self) -> None:
        """Keep the device busy between frames so an Apple GPU does not down-clock."""
        if self._keep_warm.running:
            return
        self._keep_warm.start()

    def stop_keep_warm(self) -> None:
        self._keep_warm.stop()

    def _keep_warm_loop(self) -> None:
        mx = mlx_core()
        stream = shared_stream()
        while not self._keep_warm.stopping.wait(self.keep_warm_interval):
            # Only between frames: if a step (or anything else on the shared stream) is
            # running, the device is busy anyway, so skip this tick instead of waiting.
            if not _MLX_LOCK.acquire(blocking=False):
                continue
            try:
                with mx.stream(stream):
                    mx.eval(self._warm_a + self._warm_b)
                self.keep_warm_ticks += 1
            finally:
                _MLX_LOCK.release()

    # -- reset, seed, prefill --------------------------------------------------
    def reset(self) -> None:
        """Back to the checkpoint (the loaded state, or the last prefill), with the seed rotation applied."""
        with self._made_lock:
            self._made_count = 0  # the tokens made are those since the music last started
        state = list(self._checkpoint)
        rotation = self.seed_rotation
        if rotation and self._rng_index is not None:
            with mlx_session() as mx:
                key = state[self._rng_index]
                pairs = int(np.prod(key.shape)) // 2
                keys = mx.stack([mx.random.key(RNG_SEED_BASE + i + rotation) for i in range(pairs)])
                state[self._rng_index] = keys.reshape(key.shape).astype(key.dtype)
                mx.eval(state[self._rng_index])
        elif rotation:
            log.warning("mrt2 %s: seed rotation %d not applied: no RNG key in the state", self.model, rotation)
        self._state = state

    def rotate_seed(self, rotation: int) -> None:
        """Set the seed rotation (0 = the checkpoint's own key); it applies at the next reset."""
        self.seed_rotation = int(rotation)

    @property
    def state(self) -> list[Any]:
        """The current state arrays (MLX), e.g. to inspect or save."""
        return list(self._state)

    def continue_from(self, playing: "Mrt2Engine") -> None:
        """Take on the playing engine's music: its state now, its checkpoint and its seed rotation.

        A prefill runs on a standby copy of the playing model (the music must go on meanwhile),
        but the official runner prefills its one engine (core/src/realtime_runner.cpp
        `prefill_state`, `prefill_silence`): audio continues the live state, silence resets to
        the live checkpoint first. Called before either, the standby starts where the official
        engine would; the live engine plays on, so the context the room hears after the swap
        is the live one as of this call, plus the prefill. Call it off the generation thread;
        the arrays are shared, not copied (MLX arrays are values)."""
        if playing.model != self.model or playing.function_path != self.function_path:
            raise ModelError(f"mrt2 model {self.model!r} cannot continue the music of {playing.model!r}")
        if playing._closed:
            raise ModelError(f"mrt2 model {self.model!r}: the engine to continue was replaced meanwhile")
        with _MLX_LOCK:  # between two of its steps: state, checkpoint and seed from the same moment
            state, checkpoint = list(playing._state), list(playing._checkpoint)
            rotation, seen_seed = playing.seed_rotation, playing._last_conditioning_seed
        for i, (mine, theirs) in enumerate(zip(self._state, state)):
            if tuple(mine.shape) != tuple(theirs.shape) or mine.dtype != theirs.dtype:
                raise ModelError(f"mrt2 model {self.model!r}: state_{i} of the playing engine is "
                                 f"{_fmt_shape(theirs.shape)} {_dtype_name(theirs.dtype)}, this one's {_fmt_shape(mine.shape)}")
        self._state, self._checkpoint = state, checkpoint
        self.seed_rotation, self._last_conditioning_seed = rotation, seen_seed
        self.prefilled_frames = playing.prefilled_frames

    # -- state saved and loaded (banks, the journal's engine state: engines/state.py) -------------
    # The official engine saves the live state arrays alone (core/src/mlx_engine.cpp `save_state`)
    # and loads a file into its reset target, applied at the next reset (`load_state`); mrtd's
    # state also keeps the reset target (the checkpoint, when a prefill moved it from the
    # factory's) and the seed rotation, so a load continues the music and a later reset returns
    # where the saved engine would have.
    def capture_state(self) -> StateCapture:
        """Generation thread, between steps: the state's arrays as they are (MLX arrays are values,
        so holding them is the copy); the numpy conversion runs when the result is called."""
        state, checkpoint = list(self._state), list(self._checkpoint)
        factory = len(checkpoint) == len(self._factory_state) and all(
            a is b for a, b in zip(checkpoint, self._factory_state))
        values = {"seed_rotation": self.seed_rotation, "conditioning_seed": self._last_conditioning_seed,
                  "prefilled_frames": self.prefilled_frames, "checkpoint": "factory" if factory else "saved"}
        frames, identity = self.frames_made, self.state_fingerprint()

        def arrays() -> EngineState:
            saved: dict[str, np.ndarray] = {}
            dtypes: dict[str, str] = {}
            with mlx_session() as mx:
                for prefix, source in (("state", state), ("checkpoint", [] if factory else checkpoint)):
                    for i, array in enumerate(source):
                        key = f"{prefix}_{i}"
                        dtypes[key] = _dtype_name(array.dtype)
                        if mx.issubdtype(array.dtype, mx.floating):  # bf16 has no numpy type: its bits
                            array = array.view({2: mx.uint16, 4: mx.uint32, 8: mx.uint64}[array.dtype.size])
                        saved[key] = np.array(array)
            return EngineState(self.name, self.model, identity, frames, saved, {**values, "dtypes": dtypes})

        return arrays

    def _load_state(self, state: EngineState) -> None:
        values = state.values
        dtypes = values.get("dtypes")
        if not isinstance(dtypes, dict):
            raise StateError("the mrt2 state has no dtypes")
        factory = values.get("checkpoint") == "factory"
        count = len(self._factory_state)
        with mlx_session() as mx:
            def restored(prefix: str) -> list[Any]:
                arrays = []
                for i, like in enumerate(self._factory_state):
                    key = f"{prefix}_{i}"
                    saved = state.arrays.get(key)
                    if saved is None or dtypes.get(key) != _dtype_name(like.dtype):
                        raise StateError(f"the mrt2 state's {key} is missing or of another dtype")
                    array = mx.array(saved)
                    if array.dtype != like.dtype:
                        if array.dtype.size != like.dtype.size:
                            raise StateError(f"the mrt2 state's {key} is of another dtype")
                        array = array.view(like.dtype)
                    if tuple(array.shape) != tuple(like.shape):
                        raise StateError(f"the mrt2 state's {key} is {_fmt_shape(array.shape)}, "
                                         f"the model's {_fmt_shape(like.shape)}")
                    arrays.append(array)
                return arrays

            live = restored("state")
            checkpoint = list(self._factory_state) if factory else restored("checkpoint")
            expected = count if factory else 2 * count
            if len(state.arrays) != expected:
                raise StateError(f"the mrt2 state holds {len(state.arrays)} arrays, the model {expected}")
            mx.eval(live, checkpoint)
        try:
            rotation, seen = int(values["seed_rotation"]), int(values["conditioning_seed"])  # type: ignore[call-overload]
            prefilled = int(values.get("prefilled_frames", 0))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            raise StateError("the mrt2 state's seed rotation is damaged") from None
        self._state, self._checkpoint = live, checkpoint
        self.seed_rotation, self._last_conditioning_seed, self.prefilled_frames = rotation, seen, prefilled
        self._cond_seen[:] = -1000  # the next frame uploads its conditioning afresh

    def state_fingerprint(self) -> str:
        """The state's shapes and dtypes and the function file's identity (engines/state.py)."""
        if not self._state_fingerprint:
            shapes = [f"{_fmt_shape(a.shape)} {_dtype_name(a.dtype)}" for a in self._factory_state]
            self._state_fingerprint = fingerprint([*shapes, file_identity(self.function_path)])
        return self._state_fingerprint

    def state_limit_bytes(self) -> int:
        """The live state and the checkpoint, and the header's room: no file larger is this model's."""
        return 2 * sum(int(a.nbytes) for a in self._factory_state) + HEADER_ROOM_BYTES

    def prefill_from_audio(self, audio: np.ndarray, trim_frames: int = PREFILL_TRIM_FRAMES,
                           live: Conditioning | None = None) -> int:
        """Teacher-force the model with encoded audio, from the state it is in; that context
        becomes the checkpoint.

        As the official runner (core/src/realtime_runner.cpp `prefill_state`): no reset
        first, so the audio continues the music (on a standby copy, `continue_from` the
        playing engine first); the prefill is conditioned on the live style (`prefill_conditioning`).
        `audio`: float32 [n, 2] (or [n] mono) at 48 kHz; at most 28 s is used. Runs
        many steps: call it on an engine that is not being stepped (before start,
        or a standby engine that is then swapped in). Returns the token frames fed.
        `live`: the conditioning playing now, which the prefill follows.
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = np.repeat(audio[:, None], CHANNELS, axis=1)
        if audio.ndim != 2 or audio.shape[1] != CHANNELS:
            raise ValueError(f"prefill audio must be [n, 2] at {SAMPLE_RATE} Hz, got {audio.shape}")
        usable_frames = min(len(audio), ENCODER_INPUT_SAMPLES) // FRAME_SAMPLES
        if usable_frames <= 2 * trim_frames:
            raise ValueError(
                f"prefill audio has {usable_frames} frames; more than {2 * trim_frames} are needed "
                f"({trim_frames} are trimmed at each end)"
            )
        if len(audio) > ENCODER_INPUT_SAMPLES:
            log.warning("prefill audio is %.1f s; using the first 28 s", len(audio) / SAMPLE_RATE)
        tokens = self._encode(audio[: usable_frames * FRAME_SAMPLES])
        # Tokens past the real audio encode the zero padding; both ends are unreliable.
        end = min(tokens.shape[1], usable_frames) - trim_frames
        tokens = tokens[:, trim_frames:end]
        return self._prefill_tokens(tokens, live, prefill_conditioning(live, style=True))

    def prefill_silence(self, frames: int = SILENCE_PREFILL_FRAMES, live: Conditioning | None = None) -> int:
        """Reset, then teacher-force `frames` frames of encoded silence; that becomes the checkpoint.

        As the official engine (core/src/mlx_engine.cpp `prefill_silence`, reset first): encode
        28 s of silence once, take one frame from the middle (past the encoder's warm-up,
        before its padding) and repeat it, with all 12 style levels masked, so no prompt
        steers the silent context (`prefill_conditioning`).
        """
        if frames < 1:
            raise ValueError("prefill_silence needs at least one frame")
        if getattr(self, "_silent_tokens", None) is None:
            tokens = self._encode(np.zeros((0, CHANNELS), dtype=np.float32))
            middle = max(PREFILL_TRIM_FRAMES, tokens.shape[1] // 2)
            self._silent_tokens = tokens[:, middle : middle + 1].copy()
        self.reset()  # to the checkpoint, seed rotation applied, as the official reset_state()
        return self._prefill_tokens(np.repeat(self._silent_tokens, frames, axis=1), live,
                                    prefill_conditioning(live, style=False))

    def last_tokens(self) -> np.ndarray:
        """The raw audio tokens of the frame just made (or the last token a prefill wrote): int32
        [12], each 0-1023, as the official `generate_frame(..., tokens_out)` gives them
        (core/src/mlx_engine.cpp): the decoder's previous-frame slot, its first CFG slice, less
        each level's unique-codes offset. Fed back through `prefill_from_tokens`, they branch or
        restore the music without the lossy trip through audio and the SpectroStream encoder."""
        slot = self._previous_frame_index
        if slot is None:
            raise ModelError(f"mrt2 model {self.model!r}: no previous-frame state slot; no tokens to give")
        with mlx_session() as mx:
            codes = np.array(_slot_codes(mx, self._state[slot]))
        return (codes - PREVIOUS_FRAME_OFFSETS.reshape(-1)).astype(np.int32)

    def tokens_made(self) -> np.ndarray:
        """Any thread: the raw audio tokens of the frames made since the last reset (a prefill
        resets too), oldest first, at most the last MAX_TOKEN_PREFILL_FRAMES (60 s): int32
        [frames, 12], each what `last_tokens` gave that frame, so `prefill_from_tokens` takes them
        back whole (tokens out, the official `tokens_out`, kept frame by frame)."""
        if self._previous_frame_index is None:
            raise ModelError(f"mrt2 model {self.model!r}: no previous-frame state slot; no tokens to give")
        with self._made_lock:
            count, ring = self._made_count, self._made_tokens
            if count <= len(ring):
                return ring[:count].copy()
            start = count % len(ring)
            return np.concatenate([ring[start:], ring[:start]])

    def prefill_from_tokens(self, tokens: np.ndarray, live: Conditioning | None = None) -> int:
        """Teacher-force the model with raw audio tokens (int32 [frames, 12], 0-1023: what
        `last_tokens` gave frame by frame), from the state it is in; that context becomes the
        checkpoint. As the official `prefill_state_from_tokens` with its default
        `mask_musiccoca_during_prefill` (core/src/mlx_engine.cpp): no reset first, every style
        level masked, the notes masked, the live frame's negatives kept (`_prefill_tokens`).
        At most MAX_TOKEN_PREFILL_FRAMES frames (the official takes any count; past the model's
        500-frame context more only costs time). Returns the frames fed."""
        array = np.asarray(tokens)
        if array.ndim != 2 or array.shape[1] != RVQ_LEVELS or not 1 <= array.shape[0] <= MAX_TOKEN_PREFILL_FRAMES:
            raise ValueError(f"prefill tokens are [frames, {RVQ_LEVELS}] with 1-{MAX_TOKEN_PREFILL_FRAMES} frames, "
                             f"got {array.shape}")
        if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() >= RVQ_VOCAB:
            raise ValueError(f"prefill tokens are integers 0-{RVQ_VOCAB - 1}")
        return self._prefill_tokens(array.astype(np.int32)[None], live, prefill_conditioning(live, style=False))

    def _encode(self, audio: np.ndarray) -> np.ndarray:
        """SpectroStream tokens, raw codes [1, T, 12], for up to 28 s of stereo (zero padded).

        In a helper process (engines/encoder_process.py): the MLX lock stays free for the
        playing engine through the whole 28 s call."""
        path = encoder_path(self.home)
        if not path.is_file():
            raise ModelError(f"prefill needs the SpectroStream encoder: missing file {path}")
        if getattr(self, "_encoder_process", None) is None:
            self._encoder_process = EncoderProcess()
        try:
            tokens = self._encoder_process.encode(path, audio, ENCODER_INPUT_SAMPLES)
        except EncodeError as exc:
            raise ModelError(str(exc)) from exc
        if tokens.ndim != 3 or tokens.shape[2] < RVQ_LEVELS:
            raise ModelError(f"SpectroStream encoder {path.name} returned {_fmt_shape(tokens.shape)}, "
                             f"expected [1,T,>={RVQ_LEVELS}]")
        return tokens[:, :, :RVQ_LEVELS]  # the encoder may give more levels than the model reads

    def _prefill_tokens(self, tokens: np.ndarray, live: Conditioning | None, prefill: Conditioning) -> int:
        """Feed token frames as forced tokens, one step each, from the current state; checkpoint the result.

        As the reference does, frames 0..N-2 are stepped and the last one is only
        written into the previous-frame slot: the next real step embeds it, so the
        cache holds each token exactly once. Each step's `cond` is `prefill`; its two
        negatives are the live frame's (`live` with its style masked, and with its notes
        masked), as the official engine leaves them from its last live frame
        (core/src/mlx_engine.cpp `prefill_with_token_array` rewrites only `cond`). Before
        anything has played (`live` None) the official negatives are the zeros the engine
        loaded with, an accident of its start; mrtd's are then the prefill's own.
        """
        slot = self._previous_frame_index
        if slot is None:
            raise ModelError(f"mrt2 model {self.model!r}: no previous-frame state slot ([1,1,12] or [1,C,1,12]); "
                             "prefill is not possible")
        count = tokens.shape[1]
        if count < 1:
            raise ValueError("no prefill frames remain after trimming")
        negatives_of = live if live is not None else prefill
        self._write_conditioning(negatives_of)
        self._upload_conditioning(negatives_of, force=True)
        negatives = self._args[6], self._args[7]
        self._write_conditioning(prefill)
        self._upload_conditioning(prefill, force=True)
        self._args[6], self._args[7] = negatives
        unique = (tokens.astype(np.int32) + PREVIOUS_FRAME_OFFSETS).astype(np.int32)  # [1, N, 12]
        args = list(self._args)
        state = list(self._state)
        for index in range(count - 1):
            # One step per lock hold, then a breath: a live engine on the generation thread
            # shares the lock, and must never wait for a whole prefill (measured: an underrun).
            with mlx_session() as mx:
                forced = mx.array(unique[:, index : index + 1])
                state[slot] = self._previous_frame_value(mx, forced, state[slot])
                args[8] = forced
                args[STATE_START:] = state
                outputs = self._fn(*args)
                mx.eval(outputs)
                state = list(outputs[1:])
            time.sleep(PREFILL_YIELD_S)
        with mlx_session() as mx:
            state[slot] = self._previous_frame_value(mx, mx.array(unique[:, count - 1 :]), state[slot])
            mx.eval(state)
        self._state = state
        self._checkpoint = list(state)
        self._cond_seen[:] = -1000  # the next frame re-uploads the live conditioning
        self.prefilled_frames = count
        self.prefilled_with = prefill  # what the context was conditioned on (tests, status)
        log.info("mrt2 %s: prefilled %d frames (checkpointed)", self.model, count)
        return count

    @staticmethod
    def _previous_frame_value(mx: Any, token: Any, slot: Any) -> Any:
        """`token` [1,1,12] shaped like the slot: as is, or broadcast over the CFG axis."""
        if slot.ndim == 4:
            token = mx.broadcast_to(mx.expand_dims(token, 2), slot.shape)
        return token.astype(slot.dtype)

    # -- the rest of the contract ------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop_keep_warm()
        encoder = getattr(self, "_encoder_process", None)
        if encoder is not None:
            encoder.close()
        with _MLX_LOCK:  # never drop arrays under a step running on another engine's behalf
            self._state = []
            self._checkpoint = []
            self._factory_state = []
            self._args = []

    def describe(self) -> str:
        text = f"mrt2 {self.model} ({self.function_path.parent})"
        text += " [random weights]" if self.source == "random-weights" else ""
        return text + (" [not real-time]" if self.realtime_warning else "")


def judge_warm_up(engine: "Mrt2Engine | Any") -> None:
    """Both mrt2 backends, after their timed warm-up steps: keep the p99 and warn plainly when the
    model cannot keep up on this machine."""
    verdict = engine.verdict
    assert verdict is not None, "warm_up times its steps"
    engine.warmup_p99_ms = verdict.p99_ms
    engine.realtime_warning = slow_model_warning(engine.model, verdict, SMALLEST_MODEL)
    if engine.realtime_warning:
        log.warning("%s", engine.realtime_warning)


def follow_seed(engine: "Mrt2Engine | Any", conditioning: Conditioning) -> None:
    """Both mrt2 backends: a seed change is noticed at the step, before a reset in the same frame
    applies it (the rotation the reset uses, as the official engine's `set_seed_rotation`)."""
    if conditioning.seed != engine._last_conditioning_seed:
        engine._last_conditioning_seed = conditioning.seed
        engine.seed_rotation = int(conditioning.seed)


def prefill_conditioning(live: Conditioning | None, style: bool) -> Conditioning:
    """What the prefill's steps are conditioned on (its `cond`), as the official engine builds it
    (core/src/mlx_engine.cpp `prefill_with_token_array`): with `style`, the live style (its tokens,
    levels 0-5 as sent live: the audio prefill, whose runner passes mask_musiccoca_during_prefill
    false); without, all 12 style levels masked (the silence prefill passes true); the drumless
    setting (drums off stays off; otherwise masked, as the model decides); the live temperature,
    top-k and guidance; notes masked, since the prefilled audio plays none. No live conditioning
    (a prefill before anything plays): all masked, the defaults."""
    prefill = Conditioning()
    if live is None:
        return prefill
    if style:
        prefill.style_tokens = np.array(live.style_tokens, dtype=np.int32)
    prefill.drums = DRUMS_OFF if live.drums == DRUMS_OFF else DRUMS_AUTO
    prefill.temperature, prefill.top_k = live.temperature, live.top_k
    prefill.cfg_style, prefill.cfg_notes, prefill.cfg_drums = live.cfg_style, live.cfg_notes, live.cfg_drums
    return prefill


def create(**options: Any) -> Mrt2Engine:
    """The engine `create_engine("mrt2", ...)` builds, from the daemon's engine options."""
    return Mrt2Engine(
        model=options.get("model"),
        magenta_home=options.get("magenta_home"),
        seed=options.get("seed", 0) or 0,
        keep_warm=bool(options.get("keep_warm", False)),
    )

