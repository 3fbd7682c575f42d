"""Text to a 768-d style embedding.

`Embedder` is the small interface every embedder implements (the MusicCoCa
one, which needs the model's resources, implements it too). `BuiltinEmbedder`
needs nothing: it is deterministic and hash-based, so prompts work on any
machine, and it knows a small musical vocabulary so that, driving the
built-in synth, words mean what they say.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.engines.descriptors import DESCRIPTOR_DIRECTIONS, DESCRIPTOR_INDEX


class Embedder(ABC):
    """Turns text into a style embedding: float32 [768], unit norm."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Names the embedding space (cache key): embeddings from different identities do not mix."""

    @abstractmethod
    def embed_text(self, text: str) -> np.ndarray:
        """float32 [768] unit vector for `text`."""


# Signed pushes along the synth's descriptor directions, in [-1, 1] per descriptor.
# A word's vector is its own hashed vector plus these pushes (times
# LEXICON_WEIGHT), so a lexicon word both keeps an identity of its own and
# steers the synth. Unknown words only add their hashed vector.
MUSICAL_LEXICON: dict[str, dict[str, float]] = {
    # timbre
    "bright": {"brightness": 1.0, "harmony": 0.3, "register": 0.3},
    "dark": {"brightness": -1.0, "harmony": -0.6, "register": -0.3},
    "warm": {"brightness": -0.4, "harmony": 0.2},
    "cold": {"brightness": 0.3, "harmony": -0.3},
    "shimmering": {"brightness": 0.8, "register": 0.6, "attack": -0.3, "bell": 0.4},
    "sparkling": {"brightness": 0.8, "register": 0.6, "attack": 0.4, "bell": 0.4, "density": 0.5},
    "glitter": {"brightness": 0.8, "register": 0.6, "bell": 0.6, "density": 0.6, "drums": -0.6},
    "mellow": {"brightness": -0.7, "attack": -0.3, "density": -0.3},
    "harsh": {"brightness": 1.0, "attack": 0.5},
    "distorted": {"brightness": 0.9, "attack": 0.4, "lead": 0.8},
    "industrial": {"brightness": 1.0, "harmony": -0.6, "kit": 1.0, "lead": 0.4, "four": 0.4},
    "lofi": {"brightness": -0.8, "tempo": -0.5, "drums": 0.5, "swing": 0.5, "halftime": 0.8, "piano": 0.6,
             "extensions": 0.6, "kit": 0.6, "density": -0.4},
    # tempo and energy
    "fast": {"tempo": 1.0, "density": 0.4, "halftime": -0.6},
    "slow": {"tempo": -1.0, "density": -0.3, "halftime": 0.6},
    "upbeat": {"tempo": 0.7, "harmony": 0.6, "drums": 0.4},
    "chill": {"tempo": -0.6, "density": -0.3, "attack": -0.3, "drums": -0.2},
    "energetic": {"tempo": 0.6, "density": 0.6, "drums": 0.6, "attack": 0.4},
    "calm": {"tempo": -0.6, "density": -0.6, "attack": -0.6, "drums": -0.6},
    "peaceful": {"tempo": -0.6, "density": -0.6, "attack": -0.6, "drums": -0.6},
    "meditative": {"tempo": -0.8, "density": -0.7, "attack": -0.7, "drums": -1.0, "pulse": -0.8},
    "aggressive": {"attack": 0.8, "drums": 0.6, "brightness": 0.4, "tempo": 0.4, "kit": 0.6},
    "hard": {"attack": 0.8, "drums": 0.6, "brightness": 0.4, "kit": 0.6},
    "heavy": {"kit": 1.0, "drums": 0.6, "register": -0.3},
    "soft": {"attack": -0.5, "drums": -0.3, "brightness": -0.3, "kit": -0.6},
    "gentle": {"attack": -0.5, "drums": -0.3, "brightness": -0.3, "kit": -0.6},
    # density
    "dense": {"density": 1.0},
    "busy": {"density": 1.0},
    "sparse": {"density": -1.0},
    "minimal": {"density": -0.8, "drums": 0.1},
    "solo": {"density": -0.2},
    # harmony
    "major": {"harmony": 1.0},
    "happy": {"harmony": 1.0, "tempo": 0.3},
    "minor": {"harmony": -0.8},
    "sad": {"harmony": -0.8, "tempo": -0.4},
    "melancholic": {"harmony": -0.8, "tempo": -0.3},
    "modal": {"harmony": -0.3, "open": 0.5},
    "chords": {"extensions": 0.3, "pad": 0.3},
    "jazz": {"density": 0.5, "drums": 0.2, "attack": 0.2, "swing": 1.0, "ride": 1.0, "extensions": 1.0,
             "piano": 0.5, "kit": -0.6, "bassline": 0.5, "four": -0.5},
    "trio": {"ride": 0.4, "bassline": 0.4, "drums": 0.3},
    "swing": {"swing": 1.0, "drums": 0.3, "ride": 0.6},
    "shuffle": {"swing": 0.8, "drums": 0.4},
    "epic": {"harmony": -0.3, "density": 0.4, "register": -0.2},
    # articulation and instruments
    "pluck": {"attack": 1.0, "density": 0.2, "pluck": 1.0},
    "plucked": {"attack": 1.0, "density": 0.2, "pluck": 1.0},
    "staccato": {"attack": 1.0, "density": 0.3},
    "pad": {"attack": -1.0, "pad": 1.0, "bassline": -0.5, "pulse": -1.0},
    "analog": {"pad": 0.3, "brightness": 0.5},
    "legato": {"attack": -0.8},
    "drone": {"attack": -1.0, "density": -1.0, "register": -0.5, "tempo": -0.5, "pulse": -1.0, "open": 1.0,
              "pad": 0.5, "drums": -0.6, "bassline": 0.5},
    "piano": {"attack": 0.5, "brightness": 0.1, "piano": 1.0},
    "keys": {"piano": 0.8},
    "rhodes": {"piano": 0.8, "extensions": 0.5, "brightness": -0.3},
    "guitar": {"attack": 0.6, "pluck": 0.6},
    "acoustic": {"pluck": 0.4, "kit": -0.6, "drums": -0.5, "brightness": -0.2},
    "harp": {"pluck": 1.0, "register": 0.4},
    "strings": {"attack": -0.6, "brightness": -0.1, "bowed": 0.8},
    "bowed": {"attack": -0.8, "bowed": 1.0, "brightness": 0.3},
    "cello": {"bowed": 1.0, "register": -0.3, "drums": -0.8, "attack": -0.6, "density": -0.4,
              "bassline": -0.8, "brightness": 0.4},
    "violin": {"bowed": 1.0, "register": 0.5, "drums": -0.6},
    "bells": {"attack": 0.9, "brightness": 0.6, "register": 0.6, "bell": 1.0, "swing": -0.5, "density": 0.3},
    "chime": {"attack": 0.9, "brightness": 0.6, "register": 0.6, "bell": 1.0},
    "organ": {"organ": 1.0, "attack": 0.3},
    "church": {"organ": 0.8, "drums": -1.0, "brightness": 0.8, "halftime": 0.6, "harmony": 0.4, "extensions": -0.6},
    "hymn": {"organ": 0.5, "drums": -1.0, "halftime": 1.0, "density": -0.4, "harmony": 0.5, "tempo": -0.5,
             "register": -0.5},  # the pedal's weight: apart from a cello's line
    "lead": {"lead": 1.0},
    "orchestral": {"attack": -0.4, "drums": -0.4, "density": 0.2, "bowed": 0.6},
    "cinematic": {"attack": -0.4, "drums": -0.8, "density": -0.2, "pad": 0.8, "pulse": -1.0, "extensions": 0.6,
                  "register": 0.5},
    "bass": {"register": -1.0, "brightness": -0.3, "bassline": 0.8},
    "slap": {"bassline": 1.0, "attack": 1.0, "pluck": 0.4, "brightness": 0.9},
    "deep": {"register": -0.6, "brightness": -0.3},
    "low": {"register": -1.0},
    "high": {"register": 1.0},
    # rhythm and genre
    "drums": {"drums": 1.0},
    "kick": {"drums": 0.6, "kit": 0.4},
    "brushed": {"kit": -1.0, "ride": 0.6, "drums": 0.3},
    "beat": {"drums": 1.0},
    "groove": {"drums": 0.8, "density": 0.3, "bassline": 0.2},
    "percussion": {"drums": 0.8},
    "techno": {"drums": 1.0, "tempo": 0.6, "attack": 0.5, "harmony": -0.4, "density": -0.6, "four": 1.0,
               "lead": 0.4, "swing": -0.6},
    "house": {"drums": 1.0, "tempo": -0.3, "harmony": 0.4, "density": 0.3, "four": 1.0, "organ": 0.6, "extensions": 0.8,
              "swing": 0.35},  # the light shuffle sixteenths of a drum machine's swing
    "disco": {"drums": 1.0, "tempo": 0.5, "harmony": 0.6, "four": 1.0, "bassline": 0.8},
    "funk": {"drums": 0.8, "density": 1.0, "tempo": 0.5, "attack": 0.6, "harmony": 0.2, "bassline": 1.0, "breaks": -0.4,
             "four": -0.4, "extensions": 0.4, "pluck": 0.3, "swing": 0.45},  # sixteenths a little late
    "trance": {"tempo": 0.7, "drums": 0.8, "brightness": 0.5, "attack": -0.2, "four": 1.0, "lead": 0.4},
    "hiphop": {"drums": 0.8, "tempo": -0.4, "swing": 0.5, "halftime": 1.0, "kit": 0.2},
    "dub": {"drums": 0.5, "tempo": -0.3, "brightness": -0.3, "register": -0.4, "halftime": 0.8, "bassline": 0.8},
    "synthwave": {"brightness": 0.2, "drums": 0.6, "lead": 0.4},
    "breakbeat": {"breaks": 1.0, "drums": 1.0},
    "breaks": {"breaks": 1.0, "drums": 1.0},
    "amen": {"breaks": 1.0, "drums": 0.8},
    "jungle": {"breaks": 1.0, "drums": 1.0, "brightness": -0.4, "tempo": 1.0, "register": -0.6, "four": -0.6,
               "density": -0.4},
    "metal": {"lead": 1.0, "double": 1.0, "register": 0.3, "brightness": 1.0, "bassline": -0.6, "drums": 1.0,
              "open": 0.9, "harmony": -1.0, "density": 0.6,
              "tempo": 0.6, "attack": 0.6},
    "rock": {"lead": 0.6, "drums": 0.8, "open": 0.5, "kit": 0.4},
    "folk": {"pluck": 0.6, "drums": -0.8, "harmony": 0.6, "open": 0.3, "attack": 0.4, "density": 0.2},
    "ambient": {"drums": -1.0, "density": -0.6, "attack": -0.7, "tempo": -0.5, "pulse": -1.0, "pad": 0.8,
                "open": 0.5},
    "beatless": {"drums": -1.0},
    "drumless": {"drums": -1.0},
}
# Spellings that mean the same as a lexicon word.
_ALIASES: dict[str, str] = {
    "drum": "drums",
    "beats": "beat",
    "pads": "pad",
    "plucks": "pluck",
    "jazzy": "jazz",
    "swung": "swing",
    "swinging": "swing",
    "funky": "funk",
    "fasts": "fast",
    "quick": "fast",
    "rapid": "fast",
    "relaxed": "chill",
    "relaxing": "chill",
    "darker": "dark",
    "brighter": "bright",
    "hip": "hiphop",
    "lo": "lofi",
    "droning": "drone",
    "drones": "drone",
    "bell": "bells",
    "chimes": "chime",
    "glittering": "glitter",
    "sparkly": "sparkling",
    "brushes": "brushed",
    "brush": "brushed",
    "break": "breaks",
    "breakbeats": "breakbeat",
    "dnb": "jungle",
    "hymns": "hymn",
    "violins": "violin",
    "cellos": "cello",
    "organs": "organ",
    "guitars": "guitar",
    "keyboard": "keys",
    "bowing": "bowed",
    "pianos": "piano",
    "distortion": "distorted",
    "slapped": "slap",
}
LEXICON_WEIGHT = 0.3  # one full push in a three-word prompt gives z of about 6 (descriptor ~0.07 / 0.93)

_WORD = re.compile(r"[a-z0-9]+")


def normalise_words(text: str) -> list[str]:
    """Lower-case alphanumeric words, with the lexicon's aliases and plurals folded in."""
    words = []
    for word in _WORD.findall(text.lower()):
        word = word.replace("-", "")
        if word not in MUSICAL_LEXICON and word in _ALIASES:
            word = _ALIASES[word]
        elif word not in MUSICAL_LEXICON and word.endswith("s") and word[:-1] in MUSICAL_LEXICON:
            word = word[:-1]
        words.append(word)
    return words


@lru_cache(maxsize=4096)
def _hashed_word_vector(word: str) -> np.ndarray:
    """A fixed pseudo-random unit vector per word (blake2b-seeded, so stable across processes)."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=16, person=b"mrtd-builtin-v1").digest()
    vector = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(EMBEDDING_DIM)
    vector /= np.linalg.norm(vector)
    vector.setflags(write=False)
    return vector


# How much of a hashed word vector's own projection onto the descriptor directions is kept.
# In full, any word moved every descriptor by a random z of about 1.5 (a prompt of unknown words
# could swing like jazz, or pick a rhythm family by chance, "bells" read as swung); at 0.35 unknown
# words still move the synth a little, each its own way, and lexicon pushes decide.
UNKNOWN_SPREAD = 0.35


@lru_cache(maxsize=4096)
def _word_vector(word: str) -> np.ndarray:
    vector = _hashed_word_vector(word).copy()
    vector -= (1.0 - UNKNOWN_SPREAD) * (DESCRIPTOR_DIRECTIONS.T @ (DESCRIPTOR_DIRECTIONS @ vector))
    for descriptor, push in MUSICAL_LEXICON.get(word, {}).items():
        vector += LEXICON_WEIGHT * push * DESCRIPTOR_DIRECTIONS[DESCRIPTOR_INDEX[descriptor]]
    vector.setflags(write=False)
    return vector


class BuiltinEmbedder(Embedder):
    """Deterministic bag-of-words embedding: the normalised sum of per-word vectors.

    Texts sharing words share vector components, so they are closer (cosine)
    than texts with no word in common. The empty text maps to the all-zero
    vector, which the synth reads as "no style set".
    """

    @property
    def identity(self) -> str:
        # v2: the lexicon grew rhythm, voice and harmony pushes (issue 17); v3: retuned (jazz, folk,
        # hymn) after the wavetable fix; a vector cached on disk under an older identity would
        # miss the change, so the identity (the cache key) changes with it.
        return "builtin-v3"

    def embed_text(self, text: str) -> np.ndarray:
        words = normalise_words(text)
        total = np.zeros(EMBEDDING_DIM, dtype=np.float64)
        for word in words:
            total += _word_vector(word)
        norm = np.linalg.norm(total)
        if norm < 1e-12:
            return np.zeros(EMBEDDING_DIM, dtype=np.float32)
        return (total / norm).astype(np.float32)
