"""Style embedding -> 12 style tokens, by residual vector quantization (RVQ).

MusicCoCa's RVQ has 12 levels of 1024 codewords (its `rvq_depth` and
`rvq_codebook_size`). The official MRT2 engine sends only the first 6 levels
and masks the rest (-1); `active_levels` sets how many levels are sent.

`quantize` runs on the generation thread (at most once per frame, only when
the blend changed), so both quantizers write into a preallocated array and
allocate nothing per call that is easy to avoid.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM, MASKED, STYLE_TOKENS
from mrtd.style.musiccoca_assets import (
    QUANTIZER_FILE,
    InterpreterFactory,
    ModelShapeError,
    files_fingerprint,
    fit_input,
    litert_interpreter,
    musiccoca_dir,
    require_files,
)

CODEBOOK_SIZE = 1024
DEFAULT_ACTIVE_LEVELS = 6
BUILTIN_SEED = 0x4D525432  # "MRT2"


class Quantizer(ABC):
    """Turns a 768-d style embedding into int32 [12] tokens, levels >= active_levels masked."""

    identity: str = "quantizer"

    def __init__(self, active_levels: int = DEFAULT_ACTIVE_LEVELS) -> None:
        if not 0 <= active_levels <= STYLE_TOKENS:
            raise ValueError(f"active_levels must lie in 0..{STYLE_TOKENS}, got {active_levels}")
        self.active_levels = active_levels

    def quantize(self, embedding: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Tokens for `embedding`, written into `out` (int32 [12]) when given."""
        if out is None:
            out = np.empty(STYLE_TOKENS, dtype=np.int32)
        if embedding.shape != (EMBEDDING_DIM,):
            raise ValueError(f"embedding must have shape ({EMBEDDING_DIM},), got {embedding.shape}")
        if self.active_levels:
            self._quantize_levels(embedding, out)
        out[self.active_levels:] = MASKED
        return out

    @abstractmethod
    def _quantize_levels(self, embedding: np.ndarray, out: np.ndarray) -> None:
        """Write at least the first `active_levels` token ids (0..1023) into `out`."""


class BuiltinQuantizer(Quantizer):
    """A deterministic RVQ with codebooks drawn from a fixed seed (no download needed).

    Level k's codewords are Gaussian directions scaled to `GAIN * r_k`, where
    r_k = (1 - GAIN^2)^(k/2) is the expected residual length at level k for a
    unit-length input and GAIN = sqrt(2 ln 1024 / 768) ~ 0.19 is about the
    best cosine a residual finds among 1024 random directions in 768-d. That
    is the codeword length that shrinks the residual most, so residuals shrink
    level to level and deeper levels refine rather than swamp. Nearest
    codeword by Euclidean distance, as in any RVQ. It is not MusicCoCa's
    quantizer: its tokens mean nothing to MRT2, but they are stable, move
    when the blend moves, and let the synth engine and tests run anywhere.
    """

    GAIN = math.sqrt(2.0 * math.log(CODEBOOK_SIZE) / EMBEDDING_DIM)

    def __init__(self, active_levels: int = DEFAULT_ACTIVE_LEVELS, seed: int = BUILTIN_SEED) -> None:
        super().__init__(active_levels)
        self.identity = f"builtin-rvq-{seed:x}"
        rng = np.random.default_rng(seed)
        levels = STYLE_TOKENS
        directions = rng.standard_normal((levels, CODEBOOK_SIZE, EMBEDDING_DIM), dtype=np.float32)
        directions /= np.linalg.norm(directions, axis=2, keepdims=True)
        residual_lengths = (1.0 - self.GAIN**2) ** (np.arange(levels) / 2.0)
        self.codebooks = directions * (self.GAIN * residual_lengths)[:, None, None].astype(np.float32)
        # ||r - c||^2 = ||r||^2 - 2 r.c + ||c||^2: the nearest codeword minimises ||c||^2 / 2 - r.c.
        self._half_sq_norms = 0.5 * np.einsum("lkd,lkd->lk", self.codebooks, self.codebooks)
        self._residual = np.empty(EMBEDDING_DIM, dtype=np.float32)
        self._scores = np.empty(CODEBOOK_SIZE, dtype=np.float32)

    def _quantize_levels(self, embedding: np.ndarray, out: np.ndarray) -> None:
        residual, scores = self._residual, self._scores
        residual[:] = embedding
        for level in range(self.active_levels):
            codebook = self.codebooks[level]
            # einsum, not matmul: a BLAS matrix-vector product may wake OpenBLAS's thread
            # pool, whose spinning threads cost the generation thread far more than they save.
            np.einsum("kd,d->k", codebook, residual, out=scores)
            np.subtract(self._half_sq_norms[level], scores, out=scores)
            index = int(scores.argmin())
            out[level] = index
            residual -= codebook[index]


class MusicCoCaQuantizer(Quantizer):
    """MusicCoCa's own RVQ, `pretrained_vector_quantizer.tflite`, through LiteRT.

    The model is loaded when this object is built (off the generation thread).
    """

    def __init__(
        self,
        resource_dir: str | os.PathLike | None = None,
        *,
        active_levels: int = DEFAULT_ACTIVE_LEVELS,
        interpreter_factory: InterpreterFactory | None = None,
    ) -> None:
        super().__init__(active_levels)
        directory = musiccoca_dir(resource_dir)
        require_files(directory, [QUANTIZER_FILE])
        self.identity = f"musiccoca-rvq-{files_fingerprint(directory, [QUANTIZER_FILE])}"
        self._interpreter = (interpreter_factory or litert_interpreter)(directory / QUANTIZER_FILE)
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelShapeError(f"{QUANTIZER_FILE}: expected 1 embedding input, found {len(inputs)}")
        self._input = fit_input(self._interpreter, inputs[0], EMBEDDING_DIM, QUANTIZER_FILE, "embedding")
        self._input_shape = tuple(int(d) for d in self._input["shape"])
        self._input_dtype = np.dtype(self._input["dtype"])
        outputs = self._interpreter.get_output_details()
        if not outputs:
            raise ModelShapeError(f"{QUANTIZER_FILE} has no outputs")
        self._output_index = outputs[0]["index"]
        # Check the output once now, so a wrong model fails at load, not mid-performance.
        probe = np.zeros(STYLE_TOKENS, dtype=np.int32)
        self._run(np.zeros(EMBEDDING_DIM, dtype=np.float32), probe, STYLE_TOKENS)

    def _quantize_levels(self, embedding: np.ndarray, out: np.ndarray) -> None:
        self._run(embedding, out, self.active_levels)

    def _run(self, embedding: np.ndarray, out: np.ndarray, levels: int) -> None:
        self._interpreter.set_tensor(self._input["index"], embedding.reshape(self._input_shape).astype(self._input_dtype, copy=False))
        self._interpreter.invoke()
        tokens = np.asarray(self._interpreter.get_tensor(self._output_index)).reshape(-1)
        if tokens.size < STYLE_TOKENS:
            raise ModelShapeError(f"{QUANTIZER_FILE}: output has {tokens.size} values, expected at least {STYLE_TOKENS} tokens")
        out[:levels] = tokens[:levels]


def default_quantizer(
    resource_dir: str | os.PathLike | None = None, *, active_levels: int = DEFAULT_ACTIVE_LEVELS
) -> Quantizer:
    """MusicCoCa's RVQ when its file and LiteRT are present, else the built-in one."""
    path = Path(musiccoca_dir(resource_dir)) / QUANTIZER_FILE
    if path.is_file():
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            pass
        else:
            return MusicCoCaQuantizer(resource_dir, active_levels=active_levels)
    return BuiltinQuantizer(active_levels)
