"""Audio prompts for the built-in style space (no MusicCoCa needed).

The built-in embedder knows words, not sounds. So that a scene's `audio:`
prompt still means something on a machine without MusicCoCa, this embedder
measures three things a listener hears in the file, brightness (spectral
centroid), density (how often the level jumps) and drums (how much of the
energy sits in sharp transients), and pushes along the synth's descriptor
directions, the same directions the built-in text embedder uses. Its
embeddings live in the built-in space, so they blend with built-in text
prompts. They mean nothing to a trained MRT2 model, as the built-in text
embeddings do not.
"""

from __future__ import annotations

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.engines.descriptors import DESCRIPTOR_DIRECTIONS, DESCRIPTOR_INDEX
from mrtd.style.audio_prompt import AudioNeeds
from mrtd.style.embedder import BuiltinEmbedder, Embedder

ANALYSIS_RATE_HOP = 1024  # samples per analysis block
MAX_SECONDS = 30.0  # the first 30 s are enough to say what a file sounds like
CHUNK_BLOCKS = 128  # analysis blocks whose spectra are held at once
_PUSH = 0.3  # descriptor push per unit of feature, as much as one lexicon word's
# A fixed base vector (a word outside the lexicon) keeps the pushes from saturating
# the descriptors once the sum is normalised, as a one-word text prompt would.
_BASE_WORD = "recording"


def _features(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Descriptor pushes in [-1, 1] measured from audio ([n] or [n, channels]).

    The spectra are taken CHUNK_BLOCKS blocks at a time, in float32: all of them at once, in
    float64, cost the daemon 60 MB for 30 s at 48 kHz; a chunk costs half a megabyte."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1, dtype=np.float32)
    audio = audio[: int(MAX_SECONDS * sample_rate)]
    blocks = len(audio) // ANALYSIS_RATE_HOP
    if blocks < 2 or not np.any(audio):
        return {}
    frames = audio[: blocks * ANALYSIS_RATE_HOP].reshape(blocks, ANALYSIS_RATE_HOP)
    window = np.hanning(ANALYSIS_RATE_HOP).astype(np.float32)
    freqs = np.fft.rfftfreq(ANALYSIS_RATE_HOP, 1.0 / sample_rate).astype(np.float32)
    weighted, total = 0.0, 0.0
    flux = np.zeros(blocks - 1, dtype=np.float64)
    previous: np.ndarray | None = None
    for first in range(0, blocks, CHUNK_BLOCKS):
        spectrum = np.abs(np.fft.rfft(frames[first : first + CHUNK_BLOCKS] * window, axis=1))
        weighted += float((spectrum @ freqs).sum())
        total += float(spectrum.sum())
        joined = spectrum if previous is None else np.concatenate([previous, spectrum])
        rises = np.maximum(np.diff(joined, axis=0), 0.0).sum(axis=1)
        flux[max(first - 1, 0) : max(first - 1, 0) + len(rises)] = rises
        previous = spectrum[-1:]
    centroid = weighted / max(total, 1e-12)
    # 500 Hz (mellow) .. 4 kHz (bright), on a log scale
    brightness = float(np.clip(np.log2(max(centroid, 1.0) / 1414.0) / 1.5, -1.0, 1.0))
    level = np.sqrt(np.einsum("ij,ij->i", frames, frames) / ANALYSIS_RATE_HOP) + 1e-9
    jumps = np.diff(np.log(level)) > np.log(2.0)  # a rise of 6 dB from one block to the next
    onsets_per_second = jumps.sum() * sample_rate / (ANALYSIS_RATE_HOP * blocks)
    density = float(np.clip((onsets_per_second - 2.0) / 2.0, -1.0, 1.0))
    transient_share = float(np.clip(flux.std() / max(flux.mean(), 1e-12), 0.0, 4.0))
    drums = float(np.clip(transient_share - 1.0, -1.0, 1.0))
    return {"brightness": brightness, "density": density, "attack": density, "drums": drums}


class BuiltinAudioEmbedder(Embedder):
    """The built-in text embedder, plus audio prompts measured into the same space."""

    # What `_features` uses of a file: the first MAX_SECONDS, down-mixed, at the file's rate
    # (at most 48 kHz); the reader stops there (style/audio_prompt.py).
    audio_needs = AudioNeeds(MAX_SECONDS, channels=1, rate=None)

    def __init__(self, text: Embedder | None = None) -> None:
        self._text = text if text is not None else BuiltinEmbedder()

    @property
    def identity(self) -> str:
        return self._text.identity

    def embed_text(self, text: str) -> np.ndarray:
        return self._text.embed_text(text)

    def embed_audio(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        features = _features(samples, sample_rate)
        if not features:
            return np.zeros(EMBEDDING_DIM, dtype=np.float32)  # silence or too short: no style, as the empty text
        vector = self._text.embed_text(_BASE_WORD).astype(np.float64)
        for descriptor, push in features.items():
            vector += _PUSH * push * DESCRIPTOR_DIRECTIONS[DESCRIPTOR_INDEX[descriptor]]
        return (vector / np.linalg.norm(vector)).astype(np.float32)
