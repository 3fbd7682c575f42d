"""What one 40 ms frame is conditioned on: the contract between control and engines.

Semantics follow MRT2 (DESIGN section 1). Engines read a `Conditioning`; they
never write it, and the generation thread builds a fresh one per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EMBEDDING_DIM = 768
STYLE_TOKENS = 12
NOTE_SLOTS = 128

MASKED = -1
# Note slot states.
NOTE_OFF = 0
NOTE_HELD = 1
NOTE_ONSET = 2
NOTE_ON_MODEL = 3  # "on": the model chooses articulation
# Drum states.
DRUMS_AUTO = -1
DRUMS_OFF = 0
DRUMS_ON = 1

# Defaults and ranges of the official MRT2 control surface.
DEFAULT_TEMPERATURE = 1.1
DEFAULT_TOP_K = 50
DEFAULT_CFG_STYLE = 1.6
DEFAULT_CFG_NOTES = 2.4
DEFAULT_CFG_DRUMS = 4.0
TEMPERATURE_RANGE = (0.0, 3.0)
TOP_K_RANGE = (1, 1024)
CFG_RANGE = (-1.0, 7.0)


def _masked_tokens() -> np.ndarray:
    return np.full(STYLE_TOKENS, MASKED, dtype=np.int32)


def _masked_notes() -> np.ndarray:
    return np.full(NOTE_SLOTS, MASKED, dtype=np.int8)


def _zero_embedding() -> np.ndarray:
    return np.zeros(EMBEDDING_DIM, dtype=np.float32)


@dataclass
class Conditioning:
    """Everything an engine needs for one frame."""

    style_embedding: np.ndarray = field(default_factory=_zero_embedding)  # float32 [768]
    style_tokens: np.ndarray = field(default_factory=_masked_tokens)  # int32 [12], -1 masked
    notes: np.ndarray = field(default_factory=_masked_notes)  # int8 [128], -1..3
    drums: int = DRUMS_AUTO
    cfg_style: float = DEFAULT_CFG_STYLE
    cfg_notes: float = DEFAULT_CFG_NOTES
    cfg_drums: float = DEFAULT_CFG_DRUMS
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = DEFAULT_TOP_K
    seed: int = 0
    reset: bool = False
    # The musical clock (MRT2 has no tempo input and ignores these; the synth locks to them).
    bpm: float = 120.0
    beat: float = 0.0  # beats since the clock started, at this frame's first sample

    def validate(self) -> None:
        """Raise ValueError when a field breaks the contract (used at input edges and in tests)."""
        if self.style_embedding.shape != (EMBEDDING_DIM,):
            raise ValueError(f"style_embedding must have shape ({EMBEDDING_DIM},), got {self.style_embedding.shape}")
        if not np.all(np.isfinite(self.style_embedding)):
            raise ValueError("style_embedding must be finite")
        if self.style_tokens.shape != (STYLE_TOKENS,):
            raise ValueError(f"style_tokens must have shape ({STYLE_TOKENS},), got {self.style_tokens.shape}")
        if self.notes.shape != (NOTE_SLOTS,):
            raise ValueError(f"notes must have shape ({NOTE_SLOTS},), got {self.notes.shape}")
        if self.notes.min() < MASKED or self.notes.max() > NOTE_ON_MODEL:
            raise ValueError("note states must lie in -1..3")
        if self.drums not in (DRUMS_AUTO, DRUMS_OFF, DRUMS_ON):
            raise ValueError(f"drums must be -1, 0 or 1, got {self.drums}")
        for name in ("cfg_style", "cfg_notes", "cfg_drums"):
            value = getattr(self, name)
            if not CFG_RANGE[0] <= value <= CFG_RANGE[1]:
                raise ValueError(f"{name} must lie in {CFG_RANGE}, got {value}")
        if not TEMPERATURE_RANGE[0] <= self.temperature <= TEMPERATURE_RANGE[1]:
            raise ValueError(f"temperature must lie in {TEMPERATURE_RANGE}, got {self.temperature}")
        if not TOP_K_RANGE[0] <= self.top_k <= TOP_K_RANGE[1]:
            raise ValueError(f"top_k must lie in {TOP_K_RANGE}, got {self.top_k}")

    def copy(self) -> "Conditioning":
        return Conditioning(
            style_embedding=self.style_embedding.copy(),
            style_tokens=self.style_tokens.copy(),
            notes=self.notes.copy(),
            drums=self.drums,
            cfg_style=self.cfg_style,
            cfg_notes=self.cfg_notes,
            cfg_drums=self.cfg_drums,
            temperature=self.temperature,
            top_k=self.top_k,
            seed=self.seed,
            reset=self.reset,
            bpm=self.bpm,
            beat=self.beat,
        )
