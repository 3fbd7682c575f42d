"""The style space: named prompts as points, a weighted blend, axes, surfaces, crossfades.

Once per frame the generation thread calls `advance()`, which moves any
running crossfade one frame and returns that frame's style embedding and
style tokens. Everything else here is a command the generation thread applies
between frames, so a `StyleSpace` has one writer and no locks.

How a frame's style is made (following the official MRT2 engine):

1. Weights are normalised over the active prompts: those whose embedding is
   ready and whose weight is above zero. A prompt still encoding keeps its
   weight and joins the mix the frame after its embedding arrives.
2. Blend:
   - "linear" (default): the normalised weighted sum of the embeddings. Like
     the official engine it is not re-normalised to unit length (pass
     `renormalize=True` to project it back onto the unit sphere);
   - "slerp": the weighted geodesic (Karcher) mean on the unit sphere: start
     from the normalised linear mean and take a few Riemannian gradient steps
     (log map, weighted average of tangents, exp map). For two prompts this is
     exactly slerp; for more it is order-independent. The result's length is
     the weighted mean of the prompts' lengths (1 for MusicCoCa embeddings).
3. Axis offsets are added: `value * direction` for each PCA component and each
   prompt-to-prompt axis with a non-zero value.
4. Quantize to 12 tokens, only when the embedding differs from the one last
   quantized, so at most once per frame (`quantize_count` counts calls).

With no active prompt (every weight 0, or none ready) the frame keeps the style it had:
the previous embedding and tokens, axis moves included, change nothing until a prompt is
active again. That is the official engine's rule: its reblend with no active weight (or a
weight sum below 1e-4) returns without touching the tokens (core/src/mlx_engine.cpp,
`reblend_musiccoca_tokens`). Before any style at all mrtd sends the embedding zeros and
every token masked, the model's own "no style" (what the official engine sends as the
negative for style guidance). There the official engine differs: it starts from baked-in
tokens, the real MusicCoCa codebook's ids for the word "piano"
(`kDefaultMusicCoCaTokensPiano`, core/include/magentart/mlx_engine.h). mrtd does not copy
them because they are ids of one codebook, and a StyleSpace quantizes with whichever it is
given (the built-in one, a test's stand-in, MusicCoCa's): under any other the same ids are an
arbitrary style. A set that wants the official start says `prompt: piano` in its config.
A raw embedding, while set, replaces steps 1-3; raw tokens replace step 4.

Two prompt texts mean more than their words, as in the official engine (style/prompt_text.py,
core/src/mlx_engine.cpp `fetch_musiccoca_tokens`): `musiccoca:t1,...,t12` names the tokens
outright, and replaces step 4 while it is the only prompt defined (whatever its weight; with
other prompts it blends as the words it is, as the official engine encodes it when another slot
has a text); `:name` is the loaded PCA file's centroid `name` (no such centroid: its words).
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM, MASKED, STYLE_TOKENS
from mrtd.style.curves import Crossfade, curve_name
from mrtd.style.pca import PCAFile, load_pca as read_pca_file
from mrtd.style.prompt_text import ascii_lower, centroid_key, musiccoca_tokens
from mrtd.style.quantizer import CODEBOOK_SIZE, Quantizer

BLENDS = ("linear", "slerp")
DEFAULT_PROMPT_WEIGHT = 1.0
_MIN_WEIGHT_SUM = 1e-4  # the official engine's: below it the mix is empty and the previous style stays
_SLERP_ITERATIONS = 8
_SLERP_TOLERANCE = 1e-7
_INITIAL_CAPACITY = 16


class PromptInfo(NamedTuple):
    ready: bool  # its embedding is set (it is in the mix whenever its weight is above zero)
    weight: float  # raw weight, as set
    position: tuple[float, float] | None  # on the 2-D surface, if placed


class _Axis(NamedTuple):
    from_prompt: str
    to_prompt: str


class StyleSpace:
    """Named prompts and the moves through them; see the module docstring."""

    def __init__(self, quantizer: Quantizer, *, blend: str = "linear", idw_power: float = 2.0, renormalize: bool = False) -> None:
        if blend not in BLENDS:
            raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
        if not idw_power > 0:
            raise ValueError(f"idw_power must be positive, got {idw_power}")
        self.quantizer = quantizer
        self.blend = blend
        self.idw_power = float(idw_power)
        self.renormalize = renormalize
        self.quantize_count = 0

        # Per-prompt state lives in slot arrays, so a frame's blend is one matrix product.
        self._slot_of: dict[str, int] = {}
        self._free_slots: list[int] = []
        self._embeddings = np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        self._lengths = np.zeros(0, dtype=np.float64)  # |embedding|, for slerp
        self._ready = np.zeros(0, dtype=bool)
        self._weights = np.zeros(0, dtype=np.float64)  # raw weights
        self._mix_weights = np.zeros(0, dtype=np.float32)  # scratch: normalised active weights
        self._crossfade: Crossfade | None = None
        self._grow(_INITIAL_CAPACITY)
        self._positions: dict[str, tuple[float, float]] = {}

        self._pca_components: list[np.ndarray] = []
        self._pca_values: dict[int, float] = {}
        self._named_axes: dict[str, _Axis] = {}
        self._named_axis_values: dict[str, float] = {}

        # What a prompt's text means besides its words (style/prompt_text.py): the tokens a
        # `musiccoca:` text names, and the prompts whose embedding is a PCA centroid (`:name`),
        # which an encoder's embedding of the words does not replace.
        self._centroids: dict[str, np.ndarray] = {}  # the PCA file's, by lower-cased name
        self._named_tokens: dict[str, np.ndarray] = {}
        self._from_centroid: set[str] = set()
        self._named_tokens_buffer = np.full(STYLE_TOKENS, MASKED, dtype=np.int32)

        self._raw_embedding: np.ndarray | None = None
        self._raw_tokens = np.full(STYLE_TOKENS, MASKED, dtype=np.int32)
        self._use_raw_tokens = False

        # Output buffers, reused every frame; callers get read-only views of them.
        self._embedding = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        self._offset_scratch = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        self._quantized_tokens = np.full(STYLE_TOKENS, MASKED, dtype=np.int32)
        self._last_quantized = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        self._have_quantized = False
        self._has_style = False
        masked = np.full(STYLE_TOKENS, MASKED, dtype=np.int32)
        self._embedding_view = _read_only(self._embedding)
        self._quantized_view = _read_only(self._quantized_tokens)
        self._raw_tokens_view = _read_only(self._raw_tokens)
        self._masked_view = _read_only(masked)
        self._named_tokens_view = _read_only(self._named_tokens_buffer)
        self._dirty = True

    # -- prompts ------------------------------------------------------------

    def set_prompt(
        self,
        name: str,
        embedding: np.ndarray | None,
        *,
        weight: float | None = None,
        position: tuple[float, float] | None = None,
    ) -> None:
        """Define or update a prompt.

        `embedding` None means "still encoding": a new prompt waits (its weight
        applies once `set_embedding` is called); an existing prompt keeps its
        current embedding until the new one arrives, so re-prompting never
        drops out. A new prompt's weight defaults to 1; an existing prompt's
        weight is unchanged unless given. Setting a weight here during a
        crossfade holds this prompt at that weight while the fade goes on.
        """
        if weight is not None:
            _check_weight(weight)
        if embedding is not None:
            embedding = _check_embedding(embedding, f"prompt {name!r}")
        slot = self._slot_of.get(name)
        if slot is None:
            slot = self._allocate_slot(name)
            weight = DEFAULT_PROMPT_WEIGHT if weight is None else weight
        if embedding is not None:
            self._store_embedding(slot, embedding)
        if weight is not None:
            self._weights[slot] = weight
            if self._crossfade is not None:
                self._crossfade.pin(slot, weight)
        if position is not None:
            self._positions[name] = _check_position(position)
        self._dirty = True

    def set_embedding(self, name: str, embedding: np.ndarray) -> None:
        """An encoded prompt is ready (KeyError if the prompt was removed meanwhile). A prompt whose
        text names a PCA centroid keeps the centroid: the encoder's embedding of its words is not it."""
        slot = self._slot(name)
        if name in self._from_centroid:
            return
        self._store_embedding(slot, _check_embedding(embedding, f"prompt {name!r}"))
        self._dirty = True

    def set_prompt_text(self, name: str, text: str) -> None:
        """What prompt `name`'s text means besides its words, as the official engine reads it: the
        tokens of `musiccoca:t1,...,t12`, the centroid of `:name` (style/prompt_text.py)."""
        slot = self._slot(name)
        self._named_tokens.pop(name, None)
        self._from_centroid.discard(name)
        tokens = musiccoca_tokens(text)
        if tokens is not None:
            self._named_tokens[name] = np.asarray(tokens, dtype=np.int32)
        key = centroid_key(text)
        if key is not None and key in self._centroids:
            self._store_embedding(slot, self._centroids[key])
            self._from_centroid.add(name)
        self._dirty = True

    def remove_prompt(self, name: str) -> None:
        slot = self._slot(name)
        del self._slot_of[name]
        self._positions.pop(name, None)
        self._named_tokens.pop(name, None)
        self._from_centroid.discard(name)
        self._ready[slot] = False
        self._weights[slot] = 0.0
        self._embeddings[slot] = 0.0
        self._lengths[slot] = 0.0
        if self._crossfade is not None:
            self._crossfade.pin(slot, 0.0)
        self._free_slots.append(slot)
        self._dirty = True

    def prompts(self) -> dict[str, PromptInfo]:
        return {
            name: PromptInfo(bool(self._ready[slot]), float(self._weights[slot]), self._positions.get(name))
            for name, slot in self._slot_of.items()
        }

    def embedding_of(self, name: str) -> np.ndarray | None:
        """A copy of a prompt's embedding, None while it is still encoding."""
        slot = self._slot(name)
        return self._embeddings[slot].copy() if self._ready[slot] else None

    # -- weights and crossfades -----------------------------------------------

    def set_weight(self, name: str, weight: float) -> None:
        """Set one weight now; a running crossfade stops where it is."""
        _check_weight(weight)
        slot = self._slot(name)
        self._crossfade = None
        self._weights[slot] = weight
        self._dirty = True

    def weights(self) -> dict[str, float]:
        """Current raw weights (what a UI shows), including prompts still encoding."""
        return {name: float(self._weights[slot]) for name, slot in self._slot_of.items()}

    def mix(self) -> dict[str, float]:
        """Current normalised weights over ready prompts with weight above zero."""
        active = {name: float(self._weights[slot]) for name, slot in self._slot_of.items() if self._ready[slot] and self._weights[slot] > 0}
        total = sum(active.values())
        if total < _MIN_WEIGHT_SUM:
            return {}
        return {name: weight / total for name, weight in active.items()}

    @property
    def crossfading(self) -> bool:
        return self._crossfade is not None

    def fade_in_flight(self) -> tuple[dict[str, float], int, str] | None:
        """The crossfade under way as (target weights by name, frames left, curve), or None."""
        fade = self._crossfade
        if fade is None:
            return None
        target = {name: float(fade.target[slot]) for name, slot in self._slot_of.items()}
        return target, fade.frames - fade.frame, fade.curve

    def crossfade_to(self, target: dict[str, float], frames: int, curve: str = "linear", elapsed: int = 0) -> None:
        """Fade from the current weights to `target` over `frames` frames (0 jumps).

        Prompts absent from `target` fade to 0. The fade starts from the
        weights as they are now, including mid-way through another fade, so
        there is no jump. After `frames` calls to `advance()` the weights equal
        the target exactly. `elapsed`: frames of the fade already gone, so the weights start
        that far along it (a fade that began before a restart).
        """
        curve = curve_name(curve)
        if frames < 0:
            raise ValueError(f"frames cannot be negative, got {frames}")
        unknown = [name for name in target if name not in self._slot_of]
        if unknown:
            raise KeyError(f"unknown prompt{'s' if len(unknown) > 1 else ''}: {', '.join(map(repr, unknown))}")
        for weight in target.values():
            _check_weight(weight)
        target_weights = np.zeros_like(self._weights)
        for name, weight in target.items():
            target_weights[self._slot_of[name]] = weight
        if frames <= elapsed:
            self._crossfade = None
            self._weights[:] = target_weights
        else:
            self._crossfade = Crossfade(self._weights, target_weights, frames, curve)
            if elapsed > 0:
                self._crossfade.frame = elapsed
                self._crossfade.weights_at(elapsed, self._weights)
        self._dirty = True

    # -- axes -----------------------------------------------------------------

    def load_pca(self, path: "str | os.PathLike") -> list[str]:
        """Load a PCA file: its components become axes 0..n-1, its centroids prompts.

        Returns the axis names ("0".."5", usable with `set_axis`) followed by
        the centroid prompt names (added with weight 0, or updated in place if
        a prompt of that name exists). Axis values beyond the new file's
        component count are dropped.
        """
        return self.apply_pca(read_pca_file(path))

    def apply_pca(self, pca: PCAFile) -> list[str]:
        """`load_pca` for a file already read (a scene reads its PCA file while it is prepared,
        off the generation thread, which then only installs it)."""
        self._pca_components = pca.components
        self._pca_values = {i: v for i, v in self._pca_values.items() if i < len(pca.components)}
        self._centroids = {ascii_lower(name): centroid for name, centroid in pca.centroids.items()}
        for name, centroid in pca.centroids.items():
            if name in self._slot_of:
                self._store_embedding(self._slot_of[name], _check_embedding(centroid, f"centroid {name!r}"))
            else:
                self.set_prompt(name, centroid, weight=0.0)
        self._dirty = True
        return [str(i) for i in range(len(pca.components))] + list(pca.centroids)

    def define_axis(self, name: str, from_prompt: str, to_prompt: str) -> None:
        """An axis along the direction from one prompt to another (unit length).

        The direction follows the prompts' current embeddings; while either is
        encoding or removed, the axis adds nothing.
        """
        if name.isdigit():
            raise ValueError(f"axis name {name!r} is taken by PCA component numbers; choose a name with letters")
        self._slot(from_prompt)
        self._slot(to_prompt)
        self._named_axes[name] = _Axis(from_prompt, to_prompt)
        self._named_axis_values.setdefault(name, 0.0)
        self._dirty = True

    def remove_axis(self, name: str) -> None:
        del self._named_axes[name]
        self._named_axis_values.pop(name, None)
        self._dirty = True

    def set_axis(self, axis: int | str, value: float) -> None:
        """Signed offset along an axis: an int (or digit string) is a PCA component index."""
        if not math.isfinite(value):
            raise ValueError(f"axis value must be finite, got {value}")
        if isinstance(axis, str) and axis.isdigit():
            axis = int(axis)
        if isinstance(axis, int):
            if not self._pca_components:
                raise IndexError("no PCA file loaded: load one before setting PCA axis values")
            if not 0 <= axis < len(self._pca_components):
                raise IndexError(f"PCA axis {axis} out of range 0..{len(self._pca_components) - 1}")
            self._pca_values[axis] = float(value)
        else:
            if axis not in self._named_axes:
                raise KeyError(f"unknown axis {axis!r}")
            self._named_axis_values[axis] = float(value)
        self._dirty = True

    def has_axis(self, axis: int | str) -> bool:
        """Whether `set_axis(axis, ...)` would apply (any thread: reads one list and one dict)."""
        if isinstance(axis, str) and axis.isdigit():
            axis = int(axis)
        if isinstance(axis, int):
            return 0 <= axis < len(self._pca_components)
        return axis in self._named_axes

    def axis_values(self) -> dict[str, float]:
        values = {str(i): self._pca_values.get(i, 0.0) for i in range(len(self._pca_components))}
        values.update(self._named_axis_values)
        return values

    # -- surface ----------------------------------------------------------------

    @property
    def has_surface(self) -> bool:
        """Whether any prompt has a place on the 2-D surface (what /mrt/xy moves through)."""
        return bool(self._positions)

    def set_surface_position(self, name: str, x: float, y: float) -> None:
        self._slot(name)
        self._positions[name] = _check_position((x, y))

    def set_xy(self, x: float, y: float) -> None:
        """Set weights by inverse-distance weighting from (x, y) over the placed prompts.

        w_i = d_i^-p / sum_j d_j^-p with p = idw_power; exactly at a prompt's
        position that prompt gets 1 and the others 0. Prompts without a
        position get weight 0 (the surface owns the mix). Stops a running
        crossfade.
        """
        if not self._positions:
            raise ValueError("no prompt has a surface position")
        x, y = _check_position((x, y))
        names = list(self._positions)
        squared = np.array([(x - px) ** 2 + (y - py) ** 2 for px, py in self._positions.values()])
        at = np.flatnonzero(squared < 1e-18)
        if len(at):
            idw = np.zeros(len(names))
            idw[at[0]] = 1.0
        else:
            idw = squared ** (-0.5 * self.idw_power)
            idw /= idw.sum()
        self._crossfade = None
        self._weights[:] = 0.0
        for name, weight in zip(names, idw):
            self._weights[self._slot_of[name]] = weight
        self._dirty = True

    # -- raw input --------------------------------------------------------------

    def set_raw_embedding(self, embedding: np.ndarray | None) -> None:
        """While set, this embedding is the frame's embedding (no blend, no axis offsets)."""
        self._raw_embedding = None if embedding is None else _check_embedding(embedding, "raw embedding").copy()
        self._dirty = True

    def set_raw_tokens(self, tokens: np.ndarray | None) -> None:
        """While set, these 12 tokens (-1 masked) are sent as they are, instead of quantizing."""
        if tokens is None:
            self._use_raw_tokens = False
        else:
            array = np.asarray(tokens)
            if array.shape != (STYLE_TOKENS,):
                raise ValueError(f"raw tokens must be {STYLE_TOKENS} values, got shape {array.shape}")
            if not np.all(np.equal(np.mod(array, 1), 0)) or array.min() < MASKED or array.max() >= CODEBOOK_SIZE:
                raise ValueError(f"raw tokens must be integers in {MASKED}..{CODEBOOK_SIZE - 1}")
            self._raw_tokens[:] = array.astype(np.int32)
            # Like the official engine, only the coarse levels are sent whatever the source:
            # the finer levels are masked for raw tokens too.
            self._raw_tokens[self.quantizer.active_levels :] = MASKED
            self._use_raw_tokens = True
        self._dirty = True

    @property
    def source(self) -> str:
        """Where the frame's style comes from: "tokens" (raw), "embedding" (raw) or "prompts"."""
        return "tokens" if self._use_raw_tokens else "embedding" if self._raw_embedding is not None else "prompts"

    def set_quantizer(self, quantizer: Quantizer) -> None:
        """Swap the quantizer (e.g. once MusicCoCa's is loaded); tokens are recomputed next frame."""
        self.quantizer = quantizer
        self._have_quantized = False
        self._dirty = True

    # -- per frame ----------------------------------------------------------------

    def advance(self) -> tuple[np.ndarray, np.ndarray]:
        """Move one frame: (embedding float32 [768], tokens int32 [12]).

        The returned arrays are read-only views of buffers reused every frame:
        they are valid until the next `advance()`; copy them to keep them.
        """
        if self._crossfade is not None:
            self._crossfade.step(self._weights)
            if self._crossfade.done:
                self._crossfade = None
            self._dirty = True
        if self._dirty:
            self._dirty = False
            self._compute_embedding()
            if self._has_style and not self._use_raw_tokens:
                if not (self._have_quantized and np.array_equal(self._embedding, self._last_quantized)):
                    self.quantizer.quantize(self._embedding, out=self._quantized_tokens)
                    self._last_quantized[:] = self._embedding
                    self._have_quantized = True
                    self.quantize_count += 1
        named = self._sole_named_tokens()
        if self._use_raw_tokens:
            tokens = self._raw_tokens_view
        elif named is not None:
            tokens = named
        elif self._has_style:
            tokens = self._quantized_view
        else:
            tokens = self._masked_view
        return self._embedding_view, tokens

    # -- internals ------------------------------------------------------------------

    def _sole_named_tokens(self) -> np.ndarray | None:
        """The tokens a `musiccoca:` prompt names, while it is the only prompt (and no raw
        embedding stands in for the prompts): levels past the quantizer's active ones masked."""
        if len(self._slot_of) != 1 or not self._named_tokens or self._raw_embedding is not None:
            return None
        (tokens,) = self._named_tokens.values()
        out = self._named_tokens_buffer
        out[:] = tokens
        out[self.quantizer.active_levels :] = MASKED
        return self._named_tokens_view

    def _compute_embedding(self) -> None:
        out = self._embedding
        if self._raw_embedding is not None:
            out[:] = self._raw_embedding
            self._has_style = True
            return
        mix = self._mix_weights
        np.multiply(self._weights, self._ready, out=mix, casting="unsafe")
        np.maximum(mix, 0.0, out=mix)
        total = float(mix.sum())
        if total < _MIN_WEIGHT_SUM:
            return  # an empty mix keeps the previous style (see the module's docstring)
        mix /= total
        self._has_style = True
        if self.blend == "slerp":
            self._geodesic_mean(mix, out)
        else:
            np.matmul(mix, self._embeddings, out=out)
            if self.renormalize:
                length = float(np.linalg.norm(out))
                if length > 0:
                    out /= length
        self._add_axis_offsets(out)

    def _geodesic_mean(self, mix: np.ndarray, out: np.ndarray) -> None:
        active = np.flatnonzero(mix > 0)
        weights = mix[active].astype(np.float64)
        lengths = self._lengths[active]
        usable = lengths > 0
        if not usable.any():
            out[:] = 0.0
            return
        weights, lengths, active = weights[usable], lengths[usable], active[usable]
        weights /= weights.sum()
        points = self._embeddings[active].astype(np.float64) / lengths[:, None]
        mean = weights @ points
        norm = np.linalg.norm(mean)
        # Opposite points average to nothing: start from the heaviest prompt instead.
        mean = mean / norm if norm > 1e-9 else points[int(np.argmax(weights))].copy()
        for _ in range(_SLERP_ITERATIONS):
            cosines = np.clip(points @ mean, -1.0, 1.0)
            angles = np.arccos(cosines)
            sines = np.sin(angles)
            scale = np.where(sines > 1e-12, angles / np.where(sines > 1e-12, sines, 1.0), 1.0)
            tangents = (points - cosines[:, None] * mean) * scale[:, None]
            step = weights @ tangents
            step_length = np.linalg.norm(step)
            if step_length < _SLERP_TOLERANCE:
                break
            mean = math.cos(step_length) * mean + math.sin(step_length) * (step / step_length)
            mean /= np.linalg.norm(mean)
        out[:] = mean * float(weights @ lengths)

    def _add_axis_offsets(self, out: np.ndarray) -> None:
        scratch = self._offset_scratch
        for index, value in self._pca_values.items():
            if value != 0.0:
                np.multiply(self._pca_components[index], value, out=scratch)
                out += scratch
        for name, value in self._named_axis_values.items():
            if value == 0.0:
                continue
            direction = self._axis_direction(self._named_axes[name])
            if direction is not None:
                np.multiply(direction, value, out=scratch)
                out += scratch

    def _axis_direction(self, axis: _Axis) -> np.ndarray | None:
        start, end = self._slot_of.get(axis.from_prompt), self._slot_of.get(axis.to_prompt)
        if start is None or end is None or not (self._ready[start] and self._ready[end]):
            return None
        direction = self._embeddings[end] - self._embeddings[start]
        length = float(np.linalg.norm(direction))
        return direction / length if length > 1e-9 else None

    def _slot(self, name: str) -> int:
        try:
            return self._slot_of[name]
        except KeyError:
            raise KeyError(f"unknown prompt {name!r}") from None

    def _allocate_slot(self, name: str) -> int:
        if not self._free_slots:
            self._grow(max(_INITIAL_CAPACITY, 2 * len(self._weights)))
        slot = self._free_slots.pop()
        self._slot_of[name] = slot
        return slot

    def _grow(self, capacity: int) -> None:
        old = len(self._weights)
        extra = capacity - old
        self._embeddings = np.concatenate([self._embeddings, np.zeros((extra, EMBEDDING_DIM), dtype=np.float32)])
        self._lengths = np.concatenate([self._lengths, np.zeros(extra)])
        self._ready = np.concatenate([self._ready, np.zeros(extra, dtype=bool)])
        self._weights = np.concatenate([self._weights, np.zeros(extra)])
        self._mix_weights = np.zeros(capacity, dtype=np.float32)
        if self._crossfade is not None:
            self._crossfade.grow(capacity)
        # Lowest slots first, so prompts fill the arrays in order.
        self._free_slots.extend(range(capacity - 1, old - 1, -1))

    def _store_embedding(self, slot: int, embedding: np.ndarray) -> None:
        self._embeddings[slot] = embedding
        self._lengths[slot] = float(np.linalg.norm(embedding))
        self._ready[slot] = True


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _check_embedding(embedding: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(embedding, dtype=np.float32)
    if array.shape != (EMBEDDING_DIM,):
        raise ValueError(f"{what}: embedding must have shape ({EMBEDDING_DIM},), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: embedding must be finite")
    return array


def _check_weight(weight: float) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"a weight must be a finite number >= 0, got {weight}")


def _check_position(position: tuple[float, float]) -> tuple[float, float]:
    x, y = (float(v) for v in position)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"a surface position must be finite, got {position}")
    return x, y
