"""From a 768-d style embedding to a handful of musical descriptors in [0, 1].

The built-in synth cannot understand an embedding the way MRT2 does, so it
reads a few fixed directions out of it. Each descriptor is the projection of
the (normalised) embedding onto one direction, scaled, and squashed into
[0, 1] by the algebraic sigmoid 0.5 + 0.5 z / (1 + |z|). That curve is smooth
(continuous slope) and approaches its ends slowly, so a crossfade between two
strongly different prompts spreads its change over most of the fade instead
of flipping in the middle as a logistic curve would. The
directions are rows of a fixed-seed orthonormal basis, so:

- the mapping is deterministic on every machine and across processes;
- a linear crossfade between two embeddings moves every descriptor
  continuously (projection is linear, the squash is smooth);
- arbitrary unit vectors (real MusicCoCa embeddings) spread over the range:
  a random unit vector's projection on a fixed direction has a standard
  deviation of 1/sqrt(768), and `PROJECTION_GAIN` scales that to z of about
  1.5, i.e. descriptors mostly between 0.15 and 0.85.

The built-in text embedder pushes its words along these same directions
(see `mrtd.style.embedder`), which is how "dark ambient drone" comes to sound
dark, soft and drumless.

Why this lives in engines/: it is how the synth reads a style, so the synth
owns it. The built-in embedders (`style/embedder.py`, `style/builtin_audio.py`)
write their words and sounds along the directions the synth will read, so they
import it from here: style -> engines is the way the data goes (a style is made,
then an engine plays it), while the synth importing it from style would be an
arrow against it. It is not shared vocabulary because only these two parts, in
this order, use it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "brightness",  # 0 mellow, few harmonics .. 1 buzzy, many harmonics
    "density",  # 0 sparse, few events .. 1 busy
    "tempo",  # 0 slow (70 BPM) .. 1 fast (140 BPM)
    "harmony",  # 0 dark modes (phrygian, aeolian) .. 1 bright modes (ionian, lydian)
    "attack",  # 0 soft swells and pads .. 1 sharp plucks and stabs
    "drums",  # 0 beatless .. 1 a full beat
    "register",  # 0 low .. 1 high
    "swing",  # 0 straight .. 1 triplet swing (the off-beat eighth at 2/3 of the beat)
    # Issue 17: rhythm families, instrument voices and harmony colours. Each reads as "how much
    # of this": the synth turns the family and voice ones into softmax weights, so only a
    # strong push (a lexicon word) wins over its plain default; random embeddings mix.
    "pulse",  # 0 free time (no grid: ambient, drones) .. 1 locked to the beat grid
    "kit",  # 0 light kit (brushes, soft kick) .. 1 heavy kit (distorted kick, claps)
    "four",  # four-on-the-floor (house, techno)
    "breaks",  # breakbeats (jungle, breaks)
    "halftime",  # half-time feel: the pattern over two bars (hiphop, hymns, slow pieces)
    "ride",  # jazz ride: spang-a-lang cymbal, hi-hat on 2 and 4, walking bass
    "double",  # double bass drum: kicks on every sixteenth under a backbeat (metal)
    "piano",  # voices: hammered, decaying, darkening
    "pluck",  # plucked string: bright attack that dulls fast
    "bowed",  # bowed string: slow attack, sawtooth, vibrato
    "bell",  # bell: inharmonic partials, long ring
    "pad",  # soft pad: slow swell, mellow, wide
    "organ",  # organ: drawbar partials, instant and steady
    "lead",  # distorted lead: clipped sawtooth, sustained
    "bassline",  # 0 a sparse, quiet bass .. 1 a busy, prominent bass line (funk, slap, walking)
    "extensions",  # 0 triads .. 1 seventh and ninth chords
    "open",  # 0 full triads .. 1 open fifths and tonic drones
)
# The first seven descriptors (and the key plane after them) were fixed before "swing" came;
# later descriptors take basis rows after the key plane, so the older mappings stay put.
_ORIGINAL_DESCRIPTORS = 7
DESCRIPTOR_INDEX: dict[str, int] = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}
NUM_DESCRIPTORS = len(DESCRIPTOR_NAMES)

# What the synth plays when no style is set at all (an all-zero embedding):
# a moderate, major, lightly grooving default rather than a neutral 0.5 everywhere.
DEFAULT_DESCRIPTORS = np.array(
    [0.5, 0.45, 0.45, 0.72, 0.5, 0.4, 0.5, 0.3]
    + [0.8, 0.5, 0.4, 0.35, 0.35, 0.35, 0.3]  # pulse, kit, four, breaks, halftime, ride, double
    + [0.45, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]  # piano .. lead: the plain synth voice leads
    + [0.5, 0.35, 0.3],  # bassline, extensions, open
    dtype=np.float64,
)

# z per unit of projection: turns the typical projection of a random unit
# vector (1/sqrt(768)) into z = 1.5.
PROJECTION_GAIN = 1.5 * np.sqrt(EMBEDDING_DIM)

_BASIS_LABEL = b"mrtd-descriptor-basis-v1"


def _orthonormal_rows(count: int, label: bytes) -> np.ndarray:
    """`count` orthonormal 768-d rows from a fixed seed, by explicit Gram-Schmidt in float64.

    Gram-Schmidt rather than np.linalg.qr so the result does not depend on the
    LAPACK build (signs and last bits of QR differ between implementations).
    """
    seed = int.from_bytes(hashlib.blake2b(label, digest_size=8).digest(), "little")
    raw = np.random.default_rng(seed).standard_normal((count, EMBEDDING_DIM))
    rows = np.empty_like(raw)
    for i in range(count):
        vector = raw[i].copy()
        for j in range(i):
            vector -= np.dot(rows[j], vector) * rows[j]
        rows[i] = vector / np.linalg.norm(vector)
    return rows


# Rows 0..6: the original descriptors. Rows 7..8: a plane whose angle picks the key.
# Rows 9..: descriptors added later (Gram-Schmidt is sequential, so earlier rows do not change).
_BASIS = _orthonormal_rows(NUM_DESCRIPTORS + 2, _BASIS_LABEL)
DESCRIPTOR_DIRECTIONS: np.ndarray = np.vstack(
    [_BASIS[:_ORIGINAL_DESCRIPTORS], _BASIS[_ORIGINAL_DESCRIPTORS + 2 :]]
)  # float64 [NUM_DESCRIPTORS, 768]
KEY_DIRECTIONS: np.ndarray = _BASIS[_ORIGINAL_DESCRIPTORS : _ORIGINAL_DESCRIPTORS + 2].copy()  # float64 [2, 768]
DESCRIPTOR_DIRECTIONS.setflags(write=False)
KEY_DIRECTIONS.setflags(write=False)


def _unit(embedding: np.ndarray) -> np.ndarray | None:
    vector = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if vector.shape != (EMBEDDING_DIM,):
        raise ValueError(f"embedding must have {EMBEDDING_DIM} values, got {vector.shape}")
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-9:
        return None
    return vector / norm


def is_unset(embedding: np.ndarray) -> bool:
    """True for the all-zero embedding that means "no style set"."""
    return _unit(embedding) is None


def descriptors(embedding: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The descriptors of an embedding, float64 [NUM_DESCRIPTORS] in [0, 1].

    `strength` scales z: 1 is the plain mapping, 0 gives neutral 0.5
    everywhere, larger values push further toward the ends, negative values
    mirror (the synth passes its style guidance scale here). An all-zero
    embedding gives neutral 0.5 values; callers wanting the musical default use
    `DEFAULT_DESCRIPTORS`.
    """
    unit = _unit(embedding)
    if unit is None:
        return np.full(NUM_DESCRIPTORS, 0.5)
    z = PROJECTION_GAIN * strength * (DESCRIPTOR_DIRECTIONS @ unit)
    return 0.5 + 0.5 * z / (1.0 + np.abs(z))


def key_root(embedding: np.ndarray) -> int:
    """The tonic pitch class (0 = C .. 11 = B) the embedding suggests.

    Read from the angle of the embedding within a fixed plane, so random
    embeddings land on every key evenly. An unset embedding gives C.
    """
    unit = _unit(embedding)
    if unit is None:
        return 0
    x, y = KEY_DIRECTIONS @ unit
    angle = np.arctan2(y, x) % (2 * np.pi)
    return int(np.floor(angle / (2 * np.pi) * 12 + 0.5)) % 12


def as_dict(values: np.ndarray) -> dict[str, float]:
    """Descriptor values by name, for logs and status."""
    return {name: float(v) for name, v in zip(DESCRIPTOR_NAMES, values)}
