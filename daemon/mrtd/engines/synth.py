"""The built-in `synth` engine: an instrument to rehearse on when MRT2 is not installed.

It honours the same conditioning as the real model, in its own simple way:

- Style: the embedding is read as musical descriptors (`mrtd.engines.descriptors`):
  brightness picks the harmonic content of band-limited wavetables, density
  how often the improviser plays, tempo the feel of its pulse, harmony the
  mode, attack the envelopes, drums the beat, register the octave, swing the
  off-beats. Issue 17 added rhythm families (four-on-the-floor, breaks,
  half-time, jazz ride, double kick; blended by softmax weights against the
  plain pattern), instrument voices (piano, pluck, bowed, bell, pad, organ,
  distorted lead: each its own wavetable set, envelope, brightness decay and
  vibrato, drawn per note or chord from softmax weights, so a blend of two
  prompts alternates between their voices), the kit's weight, a pulse (free
  time for ambient and drones), sevenths and ninths, open fifths, and a bass
  line that walks, slaps, sits on the off-beat or holds a sub under a break.
  The descriptors are smoothed frame by frame, so crossfades morph.
- Notes: held (1), onset (2) and on (3) slots sound their pitch with a
  sustained voice, 2 re-triggers; masked (-1) slots are the improviser's to
  play (melody, pad chords and bass in the style's key and mode); 0 is
  silent. cfg_notes sets how far the improvisation steps back while notes
  are held.
- Drums: 1 a beat, 0 none, -1 the style decides; cfg_drums how strictly.
- Sampling: temperature divides the logits of every random choice (note,
  chord, voice, whether to play a step) and scales timing/velocity
  humanisation; top_k limits the candidate notes and the next chords. cfg_style scales the descriptor logits.

Everything is vectorised per 40 ms frame (at most 12 voices rendered as one
[voices, 1920] array by wavetable lookup; envelopes in closed form; drums as
precomputed one-shots; a feedback delay whose delay exceeds a frame; a DC
blocker as a scaled cumulative sum), which keeps a frame around 1.3 ms on one
core (benchmarks/bench_synth.py; the budget is 2 ms). Output passes an AGC, a soft-knee limiter with a -1 dBFS ceiling,
and a DC blocker, and it is bit-for-bit reproducible from the seeds.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mrtd.conditioning import (
    DEFAULT_CFG_STYLE,
    DRUMS_OFF,
    DRUMS_ON,
    MASKED,
    NOTE_HELD,
    NOTE_ON_MODEL,
    NOTE_ONSET,
    NOTE_SLOTS,
    Conditioning,
)
from mrtd.engines.base import BaseEngine
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
import mrtd.engines.descriptors as style_descriptors

OUTPUT_CEILING = 0.891  # -1 dBFS, never exceeded
LIMITER_KNEE = 0.6  # below this the limiter is exactly linear
AGC_TARGET_PEAK = 0.7

MAX_VOICES = 12
TABLE_SIZE = 4096  # power of two: phase -> index is a multiply and a mask
TABLE_LEVELS = 32
HIGHEST_PARTIAL_HZ = 19_000.0  # keep every table's top harmonic under this (no aliasing)

DELAY_SAMPLES = (int(0.33 * SAMPLE_RATE), int(0.44 * SAMPLE_RATE))  # L, R: both longer than a frame
DELAY_RING = 1 << 15
DELAY_FEEDBACK = 0.38
DC_BLOCKER_POLE = 1.0 - 2.0 * math.pi * 8.0 / SAMPLE_RATE  # ~8 Hz high-pass

STEPS_PER_BAR = 16  # a pattern is 16 steps: sixteenth notes of a 4/4 bar, or eighths over two bars
STEPS_PER_BEAT = 4


def _sixteenth_weight(tempo: float) -> float:
    """How freely the off-beat sixteenths play, from the style's tempo descriptor.

    The clock sets the BPM; the style only picks the feel: a slow, spacious style
    leaves the off-sixteenths silent (an eighth-note pulse), a driving one plays them.
    """
    return min(max((tempo - 0.15) / 0.45, 0.0), 1.0)

# Swing: how late each sixteenth of a beat plays at full swing, in sixteenths. The off-beat
# eighth moves from 1/2 to 2/3 of the beat (a 2:1 triplet feel); the off-sixteenths follow so
# the order of steps never changes.
_SWING_DELAY = (0.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0)

# Scales as semitone sets, ordered from darkest to brightest so the harmony
# descriptor walks through them.
MODES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("phrygian", (0, 1, 3, 5, 7, 8, 10)),
    ("aeolian", (0, 2, 3, 5, 7, 8, 10)),
    ("dorian", (0, 2, 3, 5, 7, 9, 10)),
    ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
    ("ionian", (0, 2, 4, 5, 7, 9, 11)),
    ("lydian", (0, 2, 4, 6, 7, 9, 11)),
)

# Chord progressions as a Markov chain over scale degrees (0 = tonic).
CHORD_TRANSITIONS: dict[int, dict[int, float]] = {
    0: {3: 1.0, 4: 0.8, 5: 0.9, 1: 0.4, 0: 0.2},
    1: {4: 1.0, 3: 0.3, 6: 0.2},
    2: {5: 1.0, 3: 0.6},
    3: {4: 1.0, 0: 0.8, 1: 0.5},
    4: {0: 1.0, 5: 0.6, 3: 0.3},
    5: {3: 1.0, 1: 0.7, 4: 0.6},
    6: {0: 1.0, 2: 0.3},
}

# Per-step hit probabilities for three drum intensities (sparse, groove, full) of the plain family.
_DRUM_LEVELS = np.array([0.15, 0.5, 0.9])
_DRUMS = ("kick", "snare", "ghost", "clap", "hat", "open_hat", "ride")
_Z = [0] * 16
_DRUM_TEMPLATES: dict[str, np.ndarray] = {
    "kick": np.array([
        [1, 0, 0, 0, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0.4, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0.2],
    ]),
    "snare": np.array([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0, 0, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0.15],
        [0, 0, 0, 0, 1, 0, 0, 0.1, 0, 0, 0, 0, 1, 0, 0.2, 0],
    ]),
    "ghost": np.array([_Z, _Z, _Z]),
    "clap": np.array([_Z, _Z, _Z]),
    "hat": np.array([
        [0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0],
        [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
        [1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7, 1, 0.7, 0, 0.7],
    ]),
    "open_hat": np.array([
        [0] * 16,
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0],
        [0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0],
    ]),
    "ride": np.array([_Z, _Z, _Z]),
}


def _two_bars(rows: dict[str, list[float]]) -> np.ndarray:
    """A family's pattern as [drum, 32 sixteenths]; a one-bar row repeats, a two-bar row stands."""
    out = np.zeros((len(_DRUMS), 2 * STEPS_PER_BAR))
    for i, drum in enumerate(_DRUMS):
        row = np.asarray(rows.get(drum, [0.0] * STEPS_PER_BAR), dtype=np.float64)
        out[i] = np.tile(row, 2) if len(row) == STEPS_PER_BAR else row
    return out


def _half_time(row: list[float]) -> list[float]:
    """A one-bar row stretched over two bars: every step lands on an eighth."""
    stretched = [0.0] * (2 * STEPS_PER_BAR)
    stretched[::2] = row
    return stretched


# Rhythm families beyond the plain one, blended by softmax weights of their descriptors.
# Probabilities per sixteenth; the off-sixteenths are still thinned by the tempo feel.
_FAMILIES: dict[str, np.ndarray] = {
    # Kick on every beat, clap on 2 and 4, open hat on the off-beats, closed hats between.
    "four": _two_bars({
        "kick": [1, 0, 0, 0] * 4,
        "clap": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "hat": [0, 0.9, 0, 0.9] * 4,
        "open_hat": [0, 0, 1, 0] * 4,
    }),
    # The amen: syncopated kicks, snare on 2 and 4 with ghost notes, ride-like eighths.
    "breaks": _two_bars({
        "kick": [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0.5, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "snare": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        "ghost": [0, 0, 0, 0, 0, 0, 0, 0.9, 0, 0.9, 0, 0, 0, 0, 0.5, 0.8,
                  0, 0, 0, 0, 0, 0, 0, 0.9, 0, 0.9, 0, 0, 0, 0.6, 0, 0.9],
        "hat": [1, 0.8, 1, 0.8] * 4,  # sixteenths: the fast surface over a half-time backbeat
        "ride": [0.5, 0, 0, 0, 0, 0, 0, 0] * 2,
    }),
    # Boom-bap at half speed: the whole groove spans two bars, so the pulse heard is half the clock's.
    "halftime": _two_bars({
        "kick": _half_time([1, 0, 0, 0, 0, 0, 0, 0.5, 0, 0, 1, 0, 0, 0, 0, 0]),
        "snare": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        "ghost": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0]),
        "hat": _half_time([1, 0, 0, 0.6, 1, 0, 0, 0.6, 1, 0, 0, 0.6, 1, 0, 0, 0.6]),  # the ghosts swing
        "open_hat": _half_time([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.3, 0]),
    }),
    # Jazz: ride "ding, ding-a ding" (the skip on the swung off-beat of 2 and 4), hi-hat foot
    # on 2 and 4, feathered kick, brushed comping.
    "ride": _two_bars({
        "ride": [1, 0, 0.3, 0, 1, 0, 1, 0, 1, 0, 0.3, 0, 1, 0, 1, 0],
        "hat": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "kick": [0.3, 0, 0, 0, 0, 0, 0, 0, 0.2, 0, 0, 0, 0, 0, 0, 0],
        "ghost": [0, 0, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0],
    }),
    # Metal: a double bass drum on every sixteenth, snare on 2 and 4, ride on the eighths.
    "double": _two_bars({
        "kick": [1, 0.9] * 8,
        "snare": [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        "ride": [1, 0] * 8,
    }),
}
_FAMILY_NAMES = ("plain",) + tuple(_FAMILIES)
_FAMILY_STACK = np.stack([_FAMILIES[name] for name in _FAMILY_NAMES[1:]])  # [family, drum, 32]
_DRUM_GAIN = {"kick": 0.5, "snare": 0.34, "ghost": 0.14, "clap": 0.3, "hat": 0.15, "open_hat": 0.15, "ride": 0.18}
_DRUM_PAN = {"kick": 0.0, "snare": -0.1, "ghost": -0.1, "clap": 0.05, "hat": 0.3, "open_hat": 0.25, "ride": -0.35}
_METRIC_WEIGHT = np.array([1.0 if s % 4 == 0 else 0.75 if s % 2 == 0 else 0.4 for s in range(STEPS_PER_BAR)])

# Softmax gains: a descriptor pushed by a lexicon word (~0.93) beats the fixed bias of the plain
# choice; one at a random embedding's typical 0.3-0.7 mostly does not, so unknown words mix.
CHOICE_GAIN = 16.0
PLAIN_BIAS = 0.22  # the plain voice's and family's logit, as if their descriptor were 0.72

# Instrument voices. Each has its own wavetable set; tables with a ratio above 1 hold one cycle of
# a sub-fundamental (note / ratio), so the bell's inharmonic and the organ's sub-octave partials
# fit in a single cycle.
VOICE_NAMES = ("synth", "piano", "pluck", "bowed", "bell", "pad", "organ", "lead")
SYNTH, PIANO, PLUCK, BOWED, BELL, PAD_VOICE, ORGAN, LEAD = range(len(VOICE_NAMES))
# name: (table ratio, attack s, decay tau s, sustain, release tau s,
#        brightness decay tau s (0: none), brightness floor, brightness scale,
#        vibrato depth (frequency ratio), vibrato Hz, gain, note length factor, register shift)
_VOICE_SHAPES: dict[str, tuple[float, ...]] = {
    "piano": (1, 0.002, 0.8, 0.0, 0.3, 0.5, 0.35, 1.0, 0.0, 0.0, 1.1, 2.0, 0),
    "pluck": (1, 0.0015, 0.28, 0.0, 0.12, 0.12, 0.15, 1.0, 0.0, 0.0, 1.1, 1.5, 0),
    "bowed": (1, 0.09, 3.0, 0.85, 0.3, 0.0, 1.0, 1.3, 0.006, 5.5, 0.9, 2.5, 0),
    "bell": (4, 0.001, 1.4, 0.0, 1.0, 0.9, 0.4, 1.0, 0.0, 0.0, 0.8, 3.0, 12),
    "pad": (1, 0.7, 4.0, 0.9, 1.2, 0.0, 1.0, 0.75, 0.003, 0.4, 0.55, 2.0, 0),
    "organ": (2, 0.012, 10.0, 0.97, 0.03, 0.05, 0.8, 1.0, 0.0, 0.0, 0.75, 2.0, 0),  # the brief "chiff" of a pipe
    "lead": (1, 0.004, 2.0, 0.8, 0.08, 0.0, 1.0, 1.25, 0.004, 5.0, 1.35, 1.2, 0),
}


def _voice_spectrum(name: str, harmonics: int) -> np.ndarray:
    """Amplitude of table harmonics 1..harmonics at full brightness, for the voices with their own shape."""
    k = np.arange(1, harmonics + 1, dtype=np.float64)
    if name == "piano":
        return k**-1.15 * (0.25 + np.abs(np.sin(np.pi * k / 7.3)))  # hammer struck at 1/7: weak 7th, 14th
    if name == "pluck":
        return k**-0.8 * (0.1 + np.abs(np.sin(np.pi * k * 0.18)))  # plucked near the bridge
    if name == "bowed":
        return k**-1.0 * (1.0 + 0.6 * (k % 2))  # a sawtooth, odd partials a little stronger
    if name == "pad":
        return k**-1.6 * (1.0 + 0.5 * (k % 2))  # a soft, hollow pad: odd partials a little stronger
    if name == "bell":
        # Partials of a tuned bell relative to the note (hum 0.5, prime 1, tierce 1.2, quint 1.5,
        # nominal 2, ...), on a table at a quarter of the note: harmonic 4 is the note.
        amplitude = np.zeros(harmonics)
        for harmonic, a in ((2, 0.45), (4, 1.0), (5, 0.55), (6, 0.35), (8, 0.7), (10, 0.3), (13, 0.3),
                            (17, 0.25), (22, 0.2), (27, 0.12), (33, 0.08)):
            if harmonic <= harmonics:
                amplitude[harmonic - 1] = a
        return amplitude
    if name == "organ":
        # Drawbars on a table at half the note: 16', 8', 5 1/3', 4', 2 2/3', 2', 1 3/5', 1 1/3', 1'.
        amplitude = np.zeros(harmonics)
        for harmonic, a in ((1, 0.3), (2, 1.0), (3, 0.6), (4, 0.7), (6, 0.45), (8, 0.5), (10, 0.2), (12, 0.3),
                            (16, 0.3), (20, 0.35), (24, 0.4), (32, 0.35)):  # the top three: a mixture stop
            if harmonic <= harmonics:
                amplitude[harmonic - 1] = a
        return amplitude
    if name == "lead":
        # A hard-clipped sawtooth: the spectrum of tanh(4 saw), measured on one oversampled cycle.
        n = 8192
        phase = np.arange(n) / n
        saw = sum(np.sin(2 * np.pi * h * phase) / h for h in range(1, 80))
        clipped = np.tanh(4.0 * saw)
        spectrum = np.abs(np.fft.rfft(clipped))[1 : harmonics + 1]
        return spectrum / spectrum[0]
    raise ValueError(name)


_VOICE_HARMONICS = {"piano": 40, "pluck": 48, "bowed": 48, "pad": 24, "bell": 33, "organ": 32, "lead": 64}

# Voice roles.
FREE, HELD, MELODY, PAD, BASS = range(5)
_NEVER = 1 << 62


def midi_to_hz(note: float) -> float:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _lerp(a: float, b: float, x: float) -> float:
    return a + (b - a) * x


def _geometric(a: float, b: float, x: float) -> float:
    """Interpolate times and rates on a log scale, as ears hear them."""
    return a * (b / a) ** x


def _table_from_spectrum(amplitude: np.ndarray) -> np.ndarray:
    """One cycle of sine partials with these amplitudes (harmonic 1 first), at RMS 0.5."""
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : len(amplitude) + 1] = -1j * amplitude
    wave = np.fft.irfft(spectrum, n=TABLE_SIZE)
    return wave / (2.0 * np.sqrt(np.mean(wave**2)))  # equal loudness: RMS 0.5


@lru_cache(maxsize=1)
def _build_wavetables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band-limited single-cycle waves for every voice, each from mellow to its brightest.

    Returns the flat table ([voice, level + 1, TABLE_SIZE]; one extra copy of each voice's last
    level so level + 1 is always valid), the highest table harmonic of each [voice, level] for
    anti-aliasing, and each voice's table ratio. Built once per process (read-only).
    """
    tables = np.empty((len(VOICE_NAMES), TABLE_LEVELS + 1, TABLE_SIZE))
    top_partials = np.empty((len(VOICE_NAMES), TABLE_LEVELS))
    ratios = np.ones(len(VOICE_NAMES))
    for level in range(TABLE_LEVELS):
        # The plain synth voice: 2 partials with a steep tilt (mellow) .. 48, saw-like (buzzy).
        x = level / (TABLE_LEVELS - 1)
        partials = int(round(2 + 46 * x**1.5))
        k = np.arange(1, partials + 1)
        taper = 0.5 * (1 + np.cos(np.pi * k / (partials + 1)))
        tables[SYNTH, level] = _table_from_spectrum(k ** -(2.4 - 1.5 * x) * taper)
        top_partials[SYNTH, level] = partials
    for voice, name in enumerate(VOICE_NAMES[1:], start=1):
        ratio = _VOICE_SHAPES[name][0]
        ratios[voice] = ratio
        most = _VOICE_HARMONICS[name]
        full = _voice_spectrum(name, most)
        fewest = int(min(2 * ratio, most))  # the darkest level keeps the note and its octave
        for level in range(TABLE_LEVELS):
            x = level / (TABLE_LEVELS - 1)
            partials = int(round(fewest + (most - fewest) * x**1.5))
            k = np.arange(1, partials + 1)
            taper = 0.5 * (1 + np.cos(np.pi * k / (partials + 1))) * np.maximum(k / ratio, 1.0) ** (-0.8 * (1.0 - x))
            tables[voice, level] = _table_from_spectrum(full[:partials] * taper)
            top_partials[voice, level] = partials
    tables[:, TABLE_LEVELS] = tables[:, TABLE_LEVELS - 1]
    flat = tables.astype(np.float32).reshape(-1)
    for array in (flat, top_partials, ratios):
        array.setflags(write=False)
    return flat, top_partials, ratios


@lru_cache(maxsize=1)
def _build_drum_samples() -> dict[str, np.ndarray]:
    """One-shot drum sounds, synthesised once per process from a fixed seed (same on every run)."""
    rng = np.random.default_rng(0x6472756D)
    sr = SAMPLE_RATE

    def time_axis(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr)) / sr

    def finish(x: np.ndarray) -> np.ndarray:
        x = x / np.max(np.abs(x))
        fade_in = min(24, len(x))  # half a millisecond: a drum hit, not a click
        x[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
        fade_out = int(0.005 * sr)
        x[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
        return x.astype(np.float32)

    t = time_axis(0.45)
    kick_hz = 48 + 110 * np.exp(-t / 0.035)
    kick = np.sin(2 * np.pi * np.cumsum(kick_hz) / sr) * np.exp(-t / 0.12)
    kick += 0.25 * rng.standard_normal(len(t)) * np.exp(-t / 0.002)

    t = time_axis(0.3)
    snare_noise = np.diff(rng.standard_normal(len(t) + 1))
    snare = 0.6 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05) + 0.5 * snare_noise * np.exp(-t / 0.09)

    def hat(seconds: float, decay: float, edge: int) -> np.ndarray:
        tt = time_axis(seconds)
        noise = rng.standard_normal(len(tt) + edge)
        for _ in range(edge):  # each difference tilts the noise further up the spectrum
            noise = np.diff(noise)
        return noise * np.exp(-tt / decay)

    # Heavy kick: lower, longer, driven into a clipper (industrial, metal).
    t = time_axis(0.6)
    heavy_hz = 42 + 140 * np.exp(-t / 0.03)
    heavy = np.tanh(3.0 * np.sin(2 * np.pi * np.cumsum(heavy_hz) / sr) * np.exp(-t / 0.22))
    heavy += 0.4 * rng.standard_normal(len(t)) * np.exp(-t / 0.004)
    # Light kick: short and higher, a feathered jazz kick.
    t = time_axis(0.2)
    light = np.sin(2 * np.pi * np.cumsum(70 + 60 * np.exp(-t / 0.02)) / sr) * np.exp(-t / 0.06)
    light += 0.35 * np.diff(rng.standard_normal(len(t) + 1)) * np.exp(-t / 0.0015)  # the beater's click

    # Brush: a soft-edged swish of noise, no tone.
    t = time_axis(0.25)
    swish = rng.standard_normal(len(t) + 1)
    brush = np.diff(swish) * (1 - np.exp(-t / 0.006)) * np.exp(-t / 0.07)

    # Clap: three quick bursts of noise and a tail.
    t = time_axis(0.3)
    burst = np.diff(rng.standard_normal(len(t) + 1))
    clap_envelope = np.exp(-t / 0.08)
    for delay in (0.0, 0.011, 0.022):
        clap_envelope += np.where(t >= delay, np.exp(-np.maximum(t - delay, 0.0) / 0.004), 0.0)
    clap = burst * clap_envelope

    # Ride: inharmonic metallic partials over a hiss, a long ring.
    t = time_axis(1.2)
    ride = sum(np.sign(np.sin(2 * np.pi * f * t + p)) * a for f, a, p in (
        (435.0, 0.5, 0.3), (731.0, 0.4, 1.1), (1217.0, 0.35, 2.0), (2091.0, 0.3, 0.7), (3313.0, 0.25, 2.9)))
    for _ in range(2):
        ride = np.diff(np.concatenate([[0.0], ride]))  # tilt it up: a cymbal, not a chord
    ride = ride / np.max(np.abs(ride)) + 0.5 * hat(1.2, 0.5, 3)[: len(t)] / 40.0
    ride *= np.exp(-t / 0.45) * (0.6 + 0.4 * np.exp(-t / 0.02))

    return {
        "kick": finish(kick),
        "kick_heavy": finish(heavy),
        "kick_light": finish(light),
        "snare": finish(snare),
        "brush": finish(brush),
        "clap": finish(clap),
        "ride": finish(ride),
        "hat_dark": finish(hat(0.12, 0.03, 1)),
        "hat_bright": finish(hat(0.12, 0.025, 3)),
        "open_hat_dark": finish(hat(0.4, 0.15, 1)),
        "open_hat_bright": finish(hat(0.4, 0.13, 3)),
    }


def _pan_gains(pan: float) -> tuple[float, float]:
    """Equal-power pan, -1 left .. 1 right."""
    angle = (pan + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


_D = style_descriptors.DESCRIPTOR_INDEX
_VOICE_DESCRIPTORS = np.array([_D[name] for name in VOICE_NAMES[1:]])
_FAMILY_DESCRIPTORS = np.array([_D[name] for name in _FAMILY_NAMES[1:]])
_DECAYING = (PIANO, PLUCK, BELL)  # voices that die away by themselves: chords in them are re-struck
_CHOKE_SAMPLES = int(0.005 * SAMPLE_RATE)  # a choked open hat fades out over 5 ms
# Chords in the voices that carry a style (organ stabs, power chords, strums) sit forward in the mix.
_CHORD_GAIN = {SYNTH: 1.0, PIANO: 1.5, PLUCK: 1.6, BOWED: 1.2, BELL: 1.3, PAD_VOICE: 1.0, ORGAN: 2.4, LEAD: 2.4}
# Funk bass: sixteenth syncopations around the one (probabilities per step).
_FUNK_BASS = np.array([1, 0, 0.5, 0.4, 0, 0.6, 0, 0.7, 0.8, 0, 0.5, 0.5, 0, 0.7, 0.4, 0])


def _softmax_weights(values: np.ndarray) -> np.ndarray:
    """Weights of the plain choice (first) and of each named one, from their descriptors."""
    logits = np.concatenate([[CHOICE_GAIN * PLAIN_BIAS], CHOICE_GAIN * (values - 0.5)])
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def _free_time(pulse: float) -> float:
    """How far the improviser leaves the grid, 0 .. 1, from the pulse descriptor.

    Read on the descriptor's own z scale (the algebraic sigmoid undone): "ambient" and "drone"
    push z to about -10, and an equal blend of such a prompt with a pulsed one halves that, so
    on z a blend lands half-way, where on the squashed value it would sit at the free end.
    Unknown words (|z| under 1) stay on the grid."""
    x = min(max(2.0 * (pulse - 0.5), -0.999), 0.999)
    z = x / (1.0 - abs(x))
    return min(max((-z - 1.0) / 9.0, 0.0), 1.0)


class SynthEngine(BaseEngine):
    """A small generative synthesiser that follows MRT2 conditioning; see the module docstring."""

    name = "synth"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._engine_seed = int(seed)
        self._tables, self._table_partials, self._table_ratio = _build_wavetables()
        self._voice_stride = (TABLE_LEVELS + 1) * TABLE_SIZE
        self._drum_samples = _build_drum_samples()
        self._sample_index = np.arange(FRAME_SAMPLES, dtype=np.float32)
        self._frame_ramp = self._sample_index / FRAME_SAMPLES  # 0 .. 1 across a frame
        self._choke_ramp = np.linspace(1.0, 0.0, _CHOKE_SAMPLES, dtype=np.float32)
        self._ramp_sum = (self._sample_index * (self._sample_index - 1) / (2.0 * FRAME_SAMPLES)).astype(np.float32)
        # DC blocker in closed form: y[n] = R^(n+1) y[-1] + R^n * cumsum(R^-k d[k]).
        n = np.arange(FRAME_SAMPLES, dtype=np.float64)
        self._dc_pow = DC_BLOCKER_POLE**n
        self._dc_pow_next = DC_BLOCKER_POLE ** (n + 1)
        self._dc_inv_pow = DC_BLOCKER_POLE**-n
        self.reset()

    def describe(self) -> str:
        return f"synth (built-in generative synthesiser, seed {self._engine_seed})"

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        # Both made by the first step: from its seed, and from its style (the first jumps, the rest glide).
        self._rng = np.random.default_rng(0)  # never drawn from: the first step reseeds (None != its seed)
        self._conditioning_seed: int | None = None
        self._clock = 0  # samples rendered since reset
        self._descriptors = np.empty(0)  # smoothed
        self._style_started = False
        self._drum_amount = 0.0
        self._improv_gain = 1.0
        self._key_root = 0
        self._pending_key = 0
        self._mode = MODES[4][1]
        # The pulse follows the musical clock (conditioning.beat): steps subdivide the beat.
        self._beat_end = 0.0  # the beat at the end of the last frame
        self._last_conditioning_beat: float | None = None
        self._next_step: int | None = None  # the next sixteenth to play, counted from beat 0
        self._sixteenths = 1.0  # how freely off-beat sixteenths play (the style's feel)
        self._chord_degree = 0
        self._chord_pitch_classes: tuple[int, ...] = ()
        self._chord_open = False
        self._chord_voice = SYNTH
        self._bass_previous = 36
        self._voice_weights = _softmax_weights(style_descriptors.DEFAULT_DESCRIPTORS[_VOICE_DESCRIPTORS])
        self._family_weights = _softmax_weights(style_descriptors.DEFAULT_DESCRIPTORS[_FAMILY_DESCRIPTORS])
        self._free_amount = 0.0
        self._melody_previous = 60
        self._pad_voices: list[int] = []
        # Voices.
        v = MAX_VOICES
        self._role = np.zeros(v, dtype=np.int8)
        self._note = np.full(v, -1, dtype=np.int16)
        self._frequency = np.full(v, 440.0)
        self._phase = np.zeros(v)  # cycles, in [0, 1)
        self._gate = np.zeros(v, dtype=bool)
        self._stage_time = np.zeros(v)  # samples since the last gate change
        self._stage_level = np.zeros(v)  # envelope level when the stage began
        self._level = np.zeros(v)  # envelope level at the end of the last frame
        self._attack = np.ones(v)  # samples
        self._sustain = np.ones(v)
        self._decay_tau = np.ones(v)
        self._release_tau = np.ones(v)
        self._off_time = np.full(v, _NEVER, dtype=np.int64)
        self._gain = np.zeros(v)  # amplitude at the end of the last frame
        self._velocity = np.zeros(v)
        self._pan = np.zeros(v)
        self._brightness_scale = np.ones(v)
        self._table_level = np.zeros(v)
        self._timbre = np.zeros(v, dtype=np.int64)  # which voice's tables (SYNTH, PIANO, ...)
        self._bright_tau = np.zeros(v)  # samples; 0: the brightness holds
        self._bright_floor = np.ones(v)
        self._vibrato_depth = np.zeros(v)
        self._vibrato_rate = np.zeros(v)  # cycles per sample
        self._started = np.zeros(v, dtype=np.int64)
        self._events: list[list[tuple]] = [[] for _ in range(v)]
        # Drums: active one-shots as [sample, read position, start offset, gain L, gain R, chokable].
        self._hits: list[list] = []
        # Effects and output stages.
        self._delay_ring = np.zeros((2, DELAY_RING), dtype=np.float32)
        self._delay_wet = 0.0
        self._agc_gain = 1.0
        self._dc_last_input = np.zeros(2)
        self._dc_last_output = np.zeros(2)

    def _reseed(self, conditioning_seed: int) -> None:
        """A Generator from (engine seed, conditioning seed); deterministic across processes."""
        entropy = [self._engine_seed % (1 << 63), conditioning_seed % (1 << 63), 0x73796E7468]
        self._rng = np.random.default_rng(entropy)
        self._conditioning_seed = conditioning_seed

    # ------------------------------------------------------------------ frame

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        if conditioning.seed != self._conditioning_seed:
            self._reseed(int(conditioning.seed))
        temperature = float(max(conditioning.temperature, 0.0))
        top_k = int(max(conditioning.top_k, 1))

        self._update_style(conditioning)
        d = self._descriptors
        brightness, density, tempo, attack = d[_D["brightness"]], d[_D["density"]], d[_D["tempo"]], d[_D["attack"]]
        drum_style, swing = d[_D["drums"]], d[_D["swing"]]
        self._voice_weights = _softmax_weights(d[_VOICE_DESCRIPTORS])
        self._family_weights = _softmax_weights(d[_FAMILY_DESCRIPTORS])
        self._free_amount = _free_time(d[_D["pulse"]])
        samples_per_beat = SAMPLE_RATE * 60.0 / min(max(conditioning.bpm, 20.0), 400.0)
        beats_in_frame = FRAME_SAMPLES / samples_per_beat
        start_beat = self._follow_beat(conditioning, beats_in_frame)

        notes = conditioning.notes
        sounding = (notes == NOTE_HELD) | (notes == NOTE_ONSET) | (notes == NOTE_ON_MODEL)
        held_pitches = np.flatnonzero(sounding)
        # How strictly the held notes are followed: 0 at cfg_notes <= 0.5, 1 at >= 3.5.
        strictness = min(max((conditioning.cfg_notes - 0.5) / 3.0, 0.0), 1.0)
        self._improv_gain = 1.0 - strictness if len(held_pitches) else 1.0
        self._update_drum_amount(conditioning, drum_style * (1.0 - self._free_amount))

        for events in self._events:
            events.clear()
        self._apply_held_notes(notes, held_pitches, attack)

        # Walk the pulse through this frame: each step on the beat grid is a chance to play.
        next_step = self._resync_steps(start_beat)
        end_beat = start_beat + beats_in_frame
        self._sixteenths = _sixteenth_weight(tempo)
        # Swing needs a clear push (jazz, shuffle, lofi): a random embedding's 0.3-0.7 stays straight.
        swing_amount = min(max((swing - 0.72) / 0.15, 0.0), 1.0)
        while (step_beat := (next_step + swing_amount * _SWING_DELAY[next_step % STEPS_PER_BEAT]) / STEPS_PER_BEAT) < end_beat:
            offset = min(max(int((step_beat - start_beat) * samples_per_beat), 0), FRAME_SAMPLES - 1)
            self._play_step(
                next_step, offset, notes, held_pitches, strictness,
                temperature, top_k, samples_per_beat / STEPS_PER_BEAT,
            )
            next_step += 1
        self._next_step = next_step
        if self._free_amount > 0.0:
            self._play_free(notes, held_pitches, strictness, temperature, top_k)

        voices = self._render_voices(brightness)
        wet = self._delay_wet
        self._delay_wet = 0.06 + 0.26 * (1.0 - attack) * (1.0 - 0.5 * density)
        mix = voices + self._delay(voices, wet, self._delay_wet)
        mix += self._render_drums()
        out = self._finish(mix)
        self._clock += FRAME_SAMPLES
        return out

    def _follow_beat(self, conditioning: Conditioning, beats_in_frame: float) -> float:
        """The beat at this frame's start: the musical clock's, or our own when nothing drives it.

        A caller that builds Conditioning by hand leaves `beat` still; then the pulse
        free-runs at `bpm` from where it was, so the engine plays the same either way.
        """
        beat = float(conditioning.beat)
        free_running = beat == self._last_conditioning_beat
        self._last_conditioning_beat = beat
        start = self._beat_end if free_running else beat
        self._beat_end = start + beats_in_frame
        return start

    def _resync_steps(self, start_beat: float) -> int:
        """The next step to play. Small nudges of the clock's phase leave it alone (no step
        plays twice or is lost); after a jump (Tidal's cycle, a transport start, a new Link
        session) it is the first step at the new position, neither replaying nor waiting."""
        step = 1.0 / STEPS_PER_BEAT
        if self._next_step is not None and start_beat - step <= self._next_step * step <= start_beat + 2 * step:
            return self._next_step
        return math.ceil(start_beat * STEPS_PER_BEAT - 1e-9)

    def _update_style(self, conditioning: Conditioning) -> None:
        embedding = conditioning.style_embedding
        if style_descriptors.is_unset(embedding):
            target = style_descriptors.DEFAULT_DESCRIPTORS
            key = 0
        else:
            strength = min(max(conditioning.cfg_style / DEFAULT_CFG_STYLE, -1.0), 2.5)
            target = style_descriptors.descriptors(embedding, strength)
            key = style_descriptors.key_root(embedding)
        if not self._style_started:
            self._style_started = True
            self._descriptors = target.copy()
            self._key_root = key
            self._mode = MODES[min(int(target[3] * len(MODES)), len(MODES) - 1)][1]
        else:
            # One-pole smoothing per frame, time constant ~0.2 s: a prompt switch morphs, never jumps.
            self._descriptors += (target - self._descriptors) * 0.18
        self._pending_key = key

    def _update_drum_amount(self, conditioning: Conditioning, drum_style: float) -> None:
        # cfg_drums from 0 (style decides) to 3 or more (the drum slot decides).
        follow = min(max(conditioning.cfg_drums / 3.0, 0.0), 1.0)
        if conditioning.drums == DRUMS_ON:
            target = _lerp(drum_style, max(drum_style, 0.75), follow)
        elif conditioning.drums == DRUMS_OFF:
            target = _lerp(drum_style, 0.0, follow)
        else:
            target = drum_style
        self._drum_amount = target

    # ------------------------------------------------------------------ notes

    def _envelope_for(self, attack: float, sustained: bool, timbre: int = SYNTH) -> tuple[float, float, float, float]:
        """(attack samples, sustain level, decay tau, release tau): the voice's own shape, its
        attack stretched or shortened by the attack descriptor; the plain voice's from the descriptor alone."""
        if timbre != SYNTH:
            _, attack_s, decay_s, sustain, release_s = _VOICE_SHAPES[VOICE_NAMES[timbre]][:5]
            if sustained:
                sustain = max(sustain, 0.35)  # a held note keeps sounding, even on a piano
            scale = 2.0 ** ((0.5 - attack) * 2.0)
            return attack_s * scale * SAMPLE_RATE, sustain, decay_s * SAMPLE_RATE, release_s * SAMPLE_RATE
        attack_samples = _geometric(0.35, 0.003, attack) * SAMPLE_RATE
        decay_tau = _geometric(2.5, 0.15, attack) * SAMPLE_RATE
        release_tau = _geometric(0.9, 0.07, attack) * SAMPLE_RATE
        sustain = _lerp(0.85, 0.55, attack) if sustained else _lerp(0.75, 0.08, attack)
        return attack_samples, sustain, decay_tau, release_tau

    def _apply_held_notes(self, notes: np.ndarray, held_pitches: np.ndarray, attack: float) -> None:
        held_set = set(int(p) for p in held_pitches)
        # Release held voices whose slot is no longer sounding.
        for v in np.flatnonzero(self._role == HELD):
            if int(self._note[v]) not in held_set and self._gate[v]:
                self._off_time[v] = self._clock
        timbre = int(np.argmax(self._voice_weights))  # held notes in the style's leading voice (no draw)
        envelope = self._envelope_for(min(attack, 0.8), sustained=True, timbre=timbre)
        count = len(held_pitches)
        gain = 0.34 / math.sqrt(max(count, 2) / 2.0)
        for pitch in held_pitches[:MAX_VOICES]:
            pitch = int(pitch)
            voice = self._find_voice(HELD, pitch)
            if voice is not None and self._gate[voice] and self._off_time[voice] == _NEVER:
                timbre_now = int(self._timbre[voice])
                level = _VOICE_SHAPES[VOICE_NAMES[timbre_now]][10] if timbre_now != SYNTH else 1.0
                self._velocity[voice] = gain * level
                if notes[pitch] == NOTE_ONSET:  # re-trigger this frame
                    self._note_on(voice, 0, HELD, pitch, gain, envelope, pan=self._pan[voice], timbre=timbre)
                continue
            voice = self._allocate(0, for_held=True)
            if voice is not None:
                pan = ((pitch % 12) / 11.0 - 0.5) * 0.5
                self._note_on(voice, 0, HELD, pitch, gain, envelope, pan=pan, timbre=timbre)

    def _find_voice(self, role: int, pitch: int) -> int | None:
        found = np.flatnonzero((self._role == role) & (self._note == pitch) & self._gate)
        return int(found[0]) if len(found) else None

    def _allocate(self, offset: int, for_held: bool = False) -> int | None:
        """A voice for a new note: a free one, else the quietest improvising one (held notes win)."""
        untouched = np.array([not events for events in self._events])
        free = np.flatnonzero(untouched & (self._role == FREE))
        if len(free):
            return int(free[0])
        stealable = untouched & (self._role != HELD)
        if not stealable.any():
            if not for_held:
                return None
            stealable = untouched
            if not stealable.any():
                return None
        candidates = np.flatnonzero(stealable)
        # Quietest first; a gate-off voice is already on its way out.
        loudness = self._level[candidates] * self._gain[candidates] + self._gate[candidates] * 0.01
        return int(candidates[np.argmin(loudness)])

    def _note_on(
        self, voice: int, offset: int, role: int, pitch: int, gain: float,
        envelope: tuple[float, float, float, float], pan: float, duration: float | None = None,
        brightness_scale: float = 1.0, timbre: int = SYNTH,
    ) -> None:
        # If the voice's previous note ends before this onset, keep that release.
        if self._gate[voice] and self._clock <= self._off_time[voice] < self._clock + offset:
            self._events[voice].append((int(self._off_time[voice] - self._clock), "off"))
        self._events[voice].append((offset, "on", midi_to_hz(pitch), envelope, timbre))
        if timbre == SYNTH:
            self._bright_tau[voice], self._bright_floor[voice] = 0.0, 1.0
            self._vibrato_depth[voice] = self._vibrato_rate[voice] = 0.0
        else:
            shape = _VOICE_SHAPES[VOICE_NAMES[timbre]]
            self._bright_tau[voice], self._bright_floor[voice] = shape[5] * SAMPLE_RATE, shape[6]
            brightness_scale *= shape[7]
            self._vibrato_depth[voice], self._vibrato_rate[voice] = shape[8], shape[9] / SAMPLE_RATE
            gain *= shape[10]
        self._role[voice] = role
        self._note[voice] = pitch
        if self._level[voice] < 1e-4 and not self._events[voice][:-1]:
            # A silent voice starts at its gain: the envelope rises from zero anyway, and a gain
            # ramped across the frame would blunt every attack to 40 ms (a pluck to a swell).
            self._gain[voice] = gain * (self._improv_gain if role != HELD else 1.0)
        self._velocity[voice] = gain
        self._pan[voice] = pan
        self._brightness_scale[voice] = brightness_scale
        self._started[voice] = self._clock + offset
        start = self._clock + offset
        self._off_time[voice] = _NEVER if duration is None else start + max(int(duration), 1)

    # ------------------------------------------------------------------ improviser

    def _decide(self, probability: float, temperature: float) -> bool:
        """Bernoulli draw whose logit is divided by the temperature (0: deterministic threshold)."""
        p = min(max(probability, 1e-4), 1 - 1e-4)
        if temperature < 0.05:
            self._rng.random()  # keep the random stream aligned across temperatures
            return p >= 0.5
        logit = math.log(p / (1 - p)) / temperature
        return self._rng.random() < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))

    def _choose(self, candidates: np.ndarray, scores: np.ndarray, temperature: float, top_k: int) -> int:
        order = np.argsort(-scores, kind="stable")[:top_k]
        draw = self._rng.random()
        if temperature < 0.05 or len(order) == 1:
            return int(candidates[order[0]])
        logits = scores[order] / temperature
        weights = np.exp(logits - logits.max())
        cumulative = np.cumsum(weights)
        pick = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
        return int(candidates[order[min(pick, len(order) - 1)]])

    def _jitter(self, offset: int, temperature: float, spread_seconds: float) -> int:
        shift = self._rng.standard_normal() * temperature * spread_seconds * SAMPLE_RATE
        return int(min(max(offset + shift, 0), FRAME_SAMPLES - 1))

    def _scale_pitches(self, low: int, high: int) -> np.ndarray:
        pitches = np.arange(max(low, 0), min(high, NOTE_SLOTS - 1) + 1)
        in_scale = np.isin((pitches - self._key_root) % 12, self._mode)
        return pitches[in_scale]

    def _play_step(
        self, step: int, offset: int, notes: np.ndarray, held_pitches: np.ndarray, strictness: float,
        temperature: float, top_k: int, samples_per_step: float,
    ) -> None:
        d = self._descriptors
        brightness, density, harmony, attack = d[_D["brightness"]], d[_D["density"]], d[_D["harmony"]], d[_D["attack"]]
        register = d[_D["register"]]
        bar_step = step % STEPS_PER_BAR
        allowed = notes == MASKED  # the improviser may only play masked slots
        improvising = self._improv_gain > 1e-3 and allowed.any()

        if bar_step == 0:
            self._key_root = self._pending_key  # keys and modes change on the bar, not mid-phrase
            self._mode = MODES[min(int(harmony * len(MODES)), len(MODES) - 1)][1]
        # A chord on the bar, and also on the very first step when the engine starts mid-bar
        # (a swap or fallback joins the musical clock wherever it is).
        # A hymn moves its chords every half bar (the half-time beat); other styles on the bar or two.
        hymn = self._chord_voice == ORGAN and self._family_weights[_FAMILY_NAMES.index("halftime")] > 0.5
        if bar_step == 0 or not self._chord_pitch_classes or (hymn and bar_step == 8):
            bars_per_chord = 0.5 if hymn else 2 if density < 0.35 else 1
            if bars_per_chord < 1 or (step // STEPS_PER_BAR) % bars_per_chord == 0 or not self._chord_pitch_classes:
                self._next_chord(temperature, held_pitches, top_k)
                if improvising:
                    self._play_pad(offset, allowed, held_pitches, attack, register, bars_per_chord, samples_per_step)
        elif improvising and self._chord_pitch_classes:
            self._comp(bar_step, offset, allowed, held_pitches, attack, register, temperature, samples_per_step)

        self._play_drums(step, offset, temperature, brightness)
        if not improvising:
            return
        self._play_bass(step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                        samples_per_step)
        self._play_melody(bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                          attack, register, samples_per_step)

    def _pick_voice(self, temperature: float) -> int:
        """A voice for the next note or chord, drawn from the style's voice weights (one draw);
        the temperature divides their logits, as for every other choice."""
        draw = self._rng.random()
        if temperature < 0.05:
            return int(np.argmax(self._voice_weights))
        weights = self._voice_weights ** (1.0 / temperature) if temperature != 1.0 else self._voice_weights
        cumulative = np.cumsum(weights)
        return int(min(np.searchsorted(cumulative, draw * cumulative[-1], side="right"),
                       len(VOICE_NAMES) - 1))

    def _next_chord(self, temperature: float, held_pitches: np.ndarray, top_k: int) -> None:
        d = self._descriptors
        self._chord_voice = self._pick_voice(temperature)
        if len(held_pitches):
            # Held notes are the harmony: follow them rather than the progression.
            self._chord_pitch_classes = tuple(sorted(set(int(p) % 12 for p in held_pitches)))
            self._chord_open = False
            self._rng.random()
            return
        transitions = CHORD_TRANSITIONS[self._chord_degree]
        degrees = np.array(list(transitions.keys()))
        scores = np.log(np.array(list(transitions.values())))
        self._chord_degree = self._choose(degrees, scores, max(temperature, 0.0), min(top_k, len(degrees)))
        mode = self._mode
        # Open fifths (power chords, drones) drop the third; otherwise a triad, with a seventh and a
        # ninth as likely as the extensions descriptor says (jazz, house), drawn per chord so a
        # blend of two styles alternates between their colours.
        # Always three draws (open fifths, sevenths, ninths), so the stream does not depend on the chord.
        open_fifths = self._decide(min(max((d[_D["open"]] - 0.55) / 0.25, 0.0), 1.0), temperature)
        seventh = self._decide(min(max((d[_D["extensions"]] - 0.45) / 0.3, 0.0), 1.0), temperature)
        ninth = self._decide(min(max((d[_D["extensions"]] - 0.65) / 0.25, 0.0), 1.0), temperature)
        self._chord_open = open_fifths
        degrees_up: tuple[int, ...]
        if open_fifths:
            degrees_up = (0, 4)
        else:
            degrees_up = (0, 2, 4) + ((6,) if seventh else ()) + ((8,) if seventh and ninth else ())
        self._chord_pitch_classes = tuple(
            (self._key_root + mode[(self._chord_degree + i) % 7]) % 12 for i in degrees_up
        )

    def _play_pad(self, offset, allowed, held_pitches, attack, register, bars, samples_per_step) -> None:
        if len(held_pitches):
            return  # the held notes already sound the harmony
        for pad in self._pad_voices:
            if self._role[pad] == PAD and self._gate[pad]:
                self._off_time[pad] = min(self._off_time[pad], self._clock + offset)
        self._pad_voices = []
        timbre = self._chord_voice
        centre = 55 + int(round((register - 0.5) * 12))
        if timbre == SYNTH:
            envelope = self._envelope_for(attack * 0.6, sustained=True)
            envelope = (max(envelope[0], 0.04 * SAMPLE_RATE), envelope[1], envelope[2],
                        max(envelope[3], 0.4 * SAMPLE_RATE))
        else:
            envelope = self._envelope_for(attack, sustained=timbre not in _DECAYING, timbre=timbre)
            centre += int(_VOICE_SHAPES[VOICE_NAMES[timbre]][12]) // 2
        gain = _lerp(0.13, 0.06, attack) * _CHORD_GAIN[timbre]
        pitches = [centre - 6 + (pc - (centre - 6)) % 12 for pc in self._chord_pitch_classes]
        if self._chord_open:
            pitches.append(pitches[0] + 12)  # root, fifth, octave
        gain /= math.sqrt(max(len(pitches), 3) / 3.0)
        for i, pitch in enumerate(pitches):
            if not 0 <= pitch < NOTE_SLOTS or not allowed[pitch]:
                continue
            voice = self._allocate(offset)
            if voice is None:
                return
            # An organ lifts its hands between chords, so a held tone speaks again.
            duration = bars * STEPS_PER_BAR * samples_per_step * (0.88 if timbre == ORGAN else 0.98)
            self._note_on(voice, offset, PAD, pitch, gain, envelope, pan=(-0.6, 0.6, 0.0, -0.3, 0.3)[i % 5],
                          duration=duration, brightness_scale=0.75, timbre=timbre)
            self._pad_voices.append(voice)

    def _comp(self, bar_step, offset, allowed, held_pitches, attack, register, temperature, samples_per_step) -> None:
        """Chords struck again in the voice's own rhythm: a guitar strums the beats, a distorted lead
        chugs eighths, a house organ stabs the off-beats, a jazz piano comps on off-beats, and
        decaying voices (piano, bells) ring again half-way through the bar."""
        voice = self._chord_voice
        weights = self._family_weights
        length = 0.5  # bars
        if voice == LEAD:
            probability, length = (0.85 if bar_step % 2 == 0 else 0.0), 1.6 / STEPS_PER_BAR
        elif voice == ORGAN and weights[_FAMILY_NAMES.index("four")] > 0.4:
            probability, length = (0.9 if bar_step % 4 == 2 else 0.0), 1.2 / STEPS_PER_BAR
        elif voice == PLUCK:
            probability = 0.9 if bar_step % 4 == 0 else 0.6 if bar_step % 4 == 2 else 0.0  # down, up
            length = 2.0 / STEPS_PER_BAR
        elif voice == PIANO and weights[_FAMILY_NAMES.index("ride")] > 0.4:
            probability, length = (0.35 if bar_step in (6, 10, 14) else 0.0), 3.0 / STEPS_PER_BAR
        elif voice in _DECAYING:
            probability = 1.0 if bar_step == 8 else 0.0
        else:
            return
        if probability > 0.0 and self._decide(probability, temperature):
            self._play_pad(offset, allowed, held_pitches, attack, register, length, samples_per_step)

    def _play_bass(self, step, bar_step, offset, allowed, held_pitches, temperature, density, attack, register,
                   samples_per_step) -> None:
        d = self._descriptors
        bassline = d[_D["bassline"]]
        walking = self._family_weights[_FAMILY_NAMES.index("ride")] > 0.5 and self._free_amount < 0.5
        funk = bassline > 0.88 and not walking and self._free_amount < 0.5  # a clear push: funk, slap
        groove = self._drum_amount > 0.25 or density > 0.55
        four = self._family_weights[_FAMILY_NAMES.index("four")] > 0.5 and not funk
        sub = self._family_weights[_FAMILY_NAMES.index("breaks")] > 0.5 and not funk
        halftime = self._family_weights[_FAMILY_NAMES.index("halftime")] > 0.5 and not (walking or funk)
        if halftime:
            # Boom-bap: the bass doubles the half-time kick.
            probability = float(_FAMILIES["halftime"][_DRUMS.index("kick"), step % (2 * STEPS_PER_BAR)])
        elif walking:
            probability = 1.0 if bar_step % 4 == 0 else 0.0  # quarter notes
        elif four:
            probability = 0.95 if bar_step % 4 == 2 else 0.0  # the off-beat bass of house and techno
        elif sub:
            probability = 1.0 if bar_step in (0, 10) else 0.0  # a long sub note under the break
        elif funk:
            probability = float(_FUNK_BASS[bar_step]) * (0.6 + 0.6 * density)
            probability *= self._sixteenths if bar_step % 2 == 1 else 1.0
        elif groove and self._free_amount < 0.5:
            probability = (1.0 if bar_step in (0, 8) else 0.0) + (0.35 + 0.4 * density if bar_step % 4 == 2 else 0.0)
            probability += 0.15 * density * self._sixteenths if bar_step % 2 == 1 else 0.0
        else:
            probability = 1.0 if bar_step == 0 and (step // STEPS_PER_BAR) % 2 == 0 else 0.0
        if probability <= 0.0 or not self._decide(min(probability, 1.0), temperature):
            return
        groove = groove or walking or funk or four  # lines with a rhythm of their own: short notes
        root = min(held_pitches) % 12 if len(held_pitches) else self._chord_pitch_classes[0]
        low = 33 + int(round((register - 0.5) * 10))  # bass octave: MIDI 28..38
        pitch = low + (root - low) % 12
        if walking and bar_step != 0:
            # A walking line: chord tones and scale steps near the last note, on every beat.
            candidates = self._scale_pitches(low - 2, low + 14)
            scores = -np.abs(candidates - self._bass_previous) / 2.0 - 3.0 * (candidates == self._bass_previous)
            scores += 1.0 * np.isin(candidates % 12, self._chord_pitch_classes)
            pitch = self._choose(candidates, scores, max(temperature, 0.3), 4)
        elif funk:
            pitch += 12 if bar_step % 4 != 0 and self._rng.random() < 0.35 else 0  # the octave pop of a slap line
            pitch += 12  # slapped high on the neck: the line's bite, not its weight
        self._bass_previous = pitch
        if not 0 <= pitch < NOTE_SLOTS or not allowed[pitch]:
            return
        voice = self._allocate(offset)
        if voice is None:
            return
        # A bass line is one string: the last note stops where the next begins (long notes of a
        # slow style would otherwise pile up at the same pitch into a loud, buzzing unison).
        for other in np.flatnonzero((self._role == BASS) & self._gate):
            if other != voice:
                self._off_time[other] = min(self._off_time[other], self._clock + offset)
                self._release_tau[other] = min(self._release_tau[other], 0.06 * SAMPLE_RATE)  # used from that off
        weights = self._voice_weights
        if funk and attack > 0.55:
            timbre = PLUCK  # slap: a bright pluck that dies fast
        elif weights[ORGAN] > 0.5 or weights[BOWED] > 0.5:
            timbre = ORGAN if weights[ORGAN] > weights[BOWED] else BOWED  # organ pedals, a cello's bass
        else:
            timbre = SYNTH
        if walking:
            steps = 3.6
        elif four:
            steps = 1.5
        elif sub:
            steps = 6.0 if bar_step == 10 else 9.5
            timbre = SYNTH
        elif funk:
            steps = 1.2
        else:
            steps = 1.6 if groove and self._free_amount < 0.5 else 2 * STEPS_PER_BAR * 0.97
        if sub:
            envelope = self._envelope_for(0.6, sustained=True)
        elif timbre == SYNTH:
            envelope = self._envelope_for(max(attack, 0.55) if groove else attack * 0.5, sustained=not groove)
        else:
            envelope = self._envelope_for(attack, sustained=timbre != PLUCK, timbre=timbre)
        gain = _lerp(0.06, 0.26, bassline) * (1.2 if sub else 0.6 if four else 1.0)
        gain *= 0.85 + 0.3 * self._rng.random() * min(temperature, 1.0)
        self._note_on(voice, self._jitter(offset, temperature, 0.002), BASS, pitch, gain, envelope, pan=0.0,
                      duration=steps * samples_per_step,
                      brightness_scale=0.3 if sub else 0.6 if timbre == SYNTH else 0.8,
                      timbre=timbre)

    def _melody_pitch(self, allowed, held_pitches, strictness, temperature, top_k, register, timbre) -> int | None:
        centre = 62 + int(round((register - 0.5) * 24))
        if timbre != SYNTH:
            centre += int(_VOICE_SHAPES[VOICE_NAMES[timbre]][12])
        candidates = self._scale_pitches(centre - 10, centre + 12)
        candidates = candidates[allowed[candidates]]
        if len(candidates) == 0:
            return None
        pitch_classes = candidates % 12
        scores = -np.abs(candidates - self._melody_previous) / 2.5  # stepwise motion is likeliest
        scores += 1.2 * np.isin(pitch_classes, self._chord_pitch_classes)
        if len(held_pitches):
            scores += 2.0 * strictness * np.isin(pitch_classes, held_pitches % 12)
        scores -= 2.5 * (candidates == self._melody_previous)
        scores -= 0.08 * np.abs(candidates - centre)  # drift back toward the style's register
        pitch = self._choose(candidates, scores, temperature, top_k)
        self._melody_previous = pitch
        return pitch

    def _melody_note(self, offset, pitch, timbre, temperature, attack, samples_per_step, spread_s) -> None:
        voice = self._allocate(offset)
        if voice is None:
            return
        length_steps = _lerp(4.0, 1.0, attack) * _lerp(1.3, 0.4, attack)
        if timbre != SYNTH:
            length_steps = max(length_steps, 1.0) * _VOICE_SHAPES[VOICE_NAMES[timbre]][11]
        length_steps *= 1.0 + 0.25 * min(temperature, 2.0) * (self._rng.random() - 0.5)
        velocity = 0.75 + 0.12 * temperature * self._rng.standard_normal()
        gain = 0.32 * min(max(velocity, 0.3), 1.2)
        envelope = self._envelope_for(attack, sustained=False, timbre=timbre)
        pan = 0.35 * (self._rng.random() - 0.5) * 2
        self._note_on(voice, self._jitter(offset, temperature, spread_s), MELODY, pitch, gain, envelope, pan=pan,
                      duration=length_steps * samples_per_step, timbre=timbre)

    def _play_melody(self, bar_step, offset, allowed, held_pitches, strictness, temperature, top_k, density,
                     attack, register, samples_per_step) -> None:
        probability = (0.12 + 0.85 * density) * _METRIC_WEIGHT[bar_step] * (1.0 - self._free_amount)
        if bar_step % 2 == 1:
            probability *= density * self._sixteenths  # sparse and slow styles leave the off-sixteenths alone
        # Half time: the melody breathes at the slower pulse too (eighths become the off-beats).
        halftime = self._family_weights[_FAMILY_NAMES.index("halftime")]
        if bar_step % 8 != 0:
            probability *= 1.0 - 0.7 * halftime
        if not self._decide(probability, temperature):
            return
        timbre = self._pick_voice(temperature)
        pitch = self._melody_pitch(allowed, held_pitches, strictness, temperature, top_k, register, timbre)
        if pitch is not None:
            self._melody_note(offset, pitch, timbre, temperature, attack, samples_per_step, 0.006)

    def _play_free(self, notes, held_pitches, strictness, temperature, top_k) -> None:
        """Free time (ambient, drones): now and then a note at any moment of the frame, off the grid."""
        allowed = notes == MASKED
        if self._improv_gain <= 1e-3 or not allowed.any():
            return
        d = self._descriptors
        rate = self._free_amount * (0.15 + 0.6 * d[_D["density"]])  # notes per second
        draw, where = self._rng.random(2)
        if draw >= rate * FRAME_SAMPLES / SAMPLE_RATE:
            return
        timbre = self._pick_voice(temperature)
        # An octave above the style's register: over a low drone, notes close to it would beat.
        register = min(d[_D["register"]] + 0.5, 1.0)
        pitch = self._melody_pitch(allowed, held_pitches, strictness, temperature, top_k, register, timbre)
        if pitch is None:
            return
        offset = int(where * (FRAME_SAMPLES - 1))
        # Long, soft notes: lengths in seconds, not steps (there is no grid to count).
        self._melody_note(offset, pitch, timbre, temperature, min(d[_D["attack"]], 0.3),
                          SAMPLE_RATE * 0.25, 0.0)

    def _play_drums(self, step, offset, temperature, brightness) -> None:
        amount = self._drum_amount
        draws = self._rng.random(len(_DRUMS) + 2)  # always the same draws, so the stream does not depend on the pattern
        if amount < 0.12:
            return
        bar_step = step % STEPS_PER_BAR
        position = np.interp(amount, _DRUM_LEVELS, np.arange(len(_DRUM_LEVELS)))
        lower = int(min(position, len(_DRUM_LEVELS) - 2))
        mix = position - lower
        velocity = 0.55 + 0.45 * min(amount / 0.8, 1.0)
        # The named families play their patterns in full once the drums are up; the plain one grows.
        weights = self._family_weights
        family_probability = weights[1:] @ _FAMILY_STACK[:, :, step % (2 * STEPS_PER_BAR)] * min(amount / 0.4, 1.0)
        kit = self._descriptors[_D["kit"]]
        heavy = draws[-2] < min(max((kit - 0.5) / 0.25, 0.0), 1.0)
        light = draws[-1] < min(max((0.45 - kit) / 0.2, 0.0), 1.0)
        for i, drum in enumerate(_DRUMS):
            plain = _DRUM_TEMPLATES[drum]
            probability = weights[0] * _lerp(plain[lower, bar_step], plain[lower + 1, bar_step], mix)
            probability += family_probability[i]
            if bar_step % 2 == 1:
                probability *= self._sixteenths
            if probability <= 0.0:
                continue
            if temperature < 0.05:
                hit = probability >= 0.5
            else:
                p = min(max(probability, 1e-4), 1 - 1e-4)
                logit = math.log(p / (1 - p)) / temperature
                hit = draws[i] < 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
            if not hit:
                continue
            gain = _DRUM_GAIN[drum]
            if drum in ("hat", "open_hat"):
                sample = self._drum_samples[f"{drum}_bright" if brightness > 0.5 else f"{drum}_dark"]
            elif drum == "kick" and bar_step % 2 == 1:
                sample = self._drum_samples["kick_light"]  # a double-kick roll: tight, or it turns to mud
                gain *= 1.2
            elif drum == "kick":
                sample = self._drum_samples["kick_heavy" if heavy else "kick_light" if light else "kick"]
                gain *= 1.2 if heavy else 0.6 if light else 0.85
            elif drum in ("snare", "ghost"):
                sample = self._drum_samples["brush" if light else "snare"]
                gain *= 0.8 if light else 1.0
            else:
                sample = self._drum_samples[drum]
            accent = 1.0 if bar_step % 4 == 0 else 0.8
            if drum in ("hat", "open_hat", "clap") and heavy:
                accent *= 1.6  # a heavy kit hits everything hard, cymbals too
            elif drum == "ride" and weights[_FAMILY_NAMES.index("double")] > 0.5:
                accent *= 2.0  # a metal drummer bashes the ride
            gain *= velocity * accent
            left, right = _pan_gains(_DRUM_PAN[drum])
            start = self._jitter(offset, temperature, 0.0015)
            if drum in ("hat", "kick"):
                self._choke_open_hats(start)
            self._hits.append([sample, 0, start, gain * left, gain * right, drum == "open_hat"])

    def _choke_open_hats(self, at: int) -> None:
        """A closed hat (or the kick) cuts a ringing open hat, as the pedal does: 5 ms fade from `at`."""
        for hit in self._hits:
            sample, position, start, chokable = hit[0], hit[1], hit[2], hit[5]
            if not chokable or at < start:
                continue
            cut = position + at - start
            if cut < len(sample) - _CHOKE_SAMPLES:
                choked = sample[: cut + _CHOKE_SAMPLES].copy()
                choked[cut:] *= self._choke_ramp
                hit[0], hit[5] = choked, False

    # ------------------------------------------------------------------ rendering

    def _render_voices(self, brightness: float) -> np.ndarray:
        """All sounding voices as one [voices, 1920] wavetable lookup, mixed to [2, 1920]."""
        clock_end = self._clock + FRAME_SAMPLES
        for v in range(MAX_VOICES):
            if self._clock <= self._off_time[v] < clock_end and self._gate[v]:
                offset = int(self._off_time[v] - self._clock)
                if not any(e[1] == "off" and e[0] == offset for e in self._events[v]):
                    self._events[v].append((offset, "off"))
            self._events[v].sort(key=lambda e: (e[0], e[1] == "on"))
        active = [v for v in range(MAX_VOICES) if self._role[v] != FREE]
        if not active:
            return np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        count = len(active)
        envelopes = np.empty((count, FRAME_SAMPLES), dtype=np.float32)
        old_increment = np.empty(count)
        new_increment = np.empty(count)
        switch_at = np.full(count, FRAME_SAMPLES, dtype=np.float64)
        hold_level = np.empty(count)
        start_level = np.empty(count)
        end_level = np.empty(count)
        old_base = np.empty(count, dtype=np.int64)
        new_base = np.empty(count, dtype=np.int64)
        vibrato = np.ones((count, 2))  # frequency ratio at the frame's start and end
        for row, v in enumerate(active):
            timbre = old_timbre = int(self._timbre[v])
            old_hz = self._frequency[v]
            old_base[row] = timbre
            old_increment[row] = new_increment[row] = self._frequency[v] / (self._table_ratio[timbre] * SAMPLE_RATE)
            for event in self._events[v]:
                if event[1] == "on":
                    timbre = event[4]
                    new_increment[row] = event[2] / (self._table_ratio[timbre] * SAMPLE_RATE)
                    switch_at[row] = event[0]
                    self._frequency[v] = event[2]
            self._timbre[v] = timbre
            new_base[row] = timbre
            self._render_envelope(v, envelopes[row])
            # Gain ramps linearly across the frame toward the voice's target: no zipper clicks.
            target = self._velocity[v] * (self._improv_gain if self._role[v] != HELD else 1.0)
            gain_start = self._gain[v]
            if gain_start != target:
                envelopes[row] *= gain_start + (target - gain_start) * self._frame_ramp
            else:
                envelopes[row] *= target
            self._gain[v] = target
            # Brightness: a table level, capped so the top partial stays below HIGHEST_PARTIAL_HZ;
            # plucked, struck and rung voices darken as they ring.
            age_end = clock_end - self._started[v]
            top_hz = self._table_partials[timbre] * self._frequency[v] / self._table_ratio[timbre]
            cap = max(int(np.searchsorted(top_hz, HIGHEST_PARTIAL_HZ)) - 1, 0)
            if old_timbre != timbre or old_hz != self._frequency[v]:  # the old note's tail shares the levels
                top_hz = self._table_partials[old_timbre] * old_hz / self._table_ratio[old_timbre]
                cap = min(cap, max(int(np.searchsorted(top_hz, HIGHEST_PARTIAL_HZ)) - 1, 0))
            struck = (0.04 + 0.96 * brightness) * self._brightness_scale[v] * (TABLE_LEVELS - 1)
            wanted = struck
            if self._bright_tau[v] > 0.0:
                floor = self._bright_floor[v]
                wanted *= floor + (1.0 - floor) * math.exp(-max(age_end, 0) / self._bright_tau[v])
            # Until a note strikes, the voice keeps its level; a struck note starts at its own attack
            # brightness (a pluck is brightest as it is plucked) and darkens from there.
            hold_level[row] = min(self._table_level[v], cap)
            start_level[row] = min(struck, cap) if switch_at[row] < FRAME_SAMPLES else hold_level[row]
            end_level[row] = min(wanted, cap)
            self._table_level[v] = end_level[row]
            if self._vibrato_depth[v] > 0.0:
                depth, rate = self._vibrato_depth[v], self._vibrato_rate[v]
                onset = min(max(age_end - FRAME_SAMPLES, 0) / (0.3 * SAMPLE_RATE), 1.0)  # vibrato fades in
                vibrato[row, 0] = 1.0 + depth * onset * math.sin(2 * math.pi * rate * (age_end - FRAME_SAMPLES))
                vibrato[row, 1] = 1.0 + depth * min(onset + 0.13, 1.0) * math.sin(2 * math.pi * rate * age_end)
            if self._level[v] < 1e-4 and not self._gate[v]:
                self._free(v)

        # Phase: the old frequency up to the note change, the new one after it (phase-continuous).
        n = self._sample_index
        before = np.minimum(n[None, :], switch_at[:, None].astype(np.float32))
        after = n[None, :] - before
        phase = self._phase[active].astype(np.float32)[:, None] + (
            old_increment.astype(np.float32)[:, None] * before + new_increment.astype(np.float32)[:, None] * after
        )
        end_phase = self._phase[active] + old_increment * switch_at + new_increment * (FRAME_SAMPLES - switch_at)
        wobbling = np.any(vibrato != 1.0, axis=1)
        steady = np.flatnonzero(wobbling & (switch_at >= FRAME_SAMPLES))
        if len(steady):
            # Vibrato: the frequency ratio ramps linearly across the frame, so the phase is the
            # increment times the ramp's running sum, r0 n + (r1 - r0) n (n - 1) / 2N, in closed form.
            w = steady
            r0, slope = vibrato[w, 0], vibrato[w, 1] - vibrato[w, 0]
            start = self._phase[active][w]
            ramped = r0.astype(np.float32)[:, None] * n[None, :] + slope.astype(np.float32)[:, None] * self._ramp_sum
            phase[w] = start.astype(np.float32)[:, None] + old_increment.astype(np.float32)[w, None] * ramped
            end_phase[w] = start + old_increment[w] * (r0 * FRAME_SAMPLES + slope * (FRAME_SAMPLES - 1) / 2.0)
        switching = np.flatnonzero(wobbling & (switch_at < FRAME_SAMPLES))
        if len(switching):
            # A vibrato voice that changes note in this frame: a running sum over both increments.
            w = switching
            ratio = vibrato[w, :1] + (vibrato[w, 1:] - vibrato[w, :1]) * self._frame_ramp[None, :]
            increment = np.where(n[None, :] < switch_at[w, None], old_increment[w, None], new_increment[w, None])
            increment *= ratio
            running = np.cumsum(increment, axis=1)
            start = self._phase[active][w]
            phase[w] = (start[:, None] + running - increment).astype(np.float32)
            end_phase[w] = start + running[:, -1]
        self._phase[active] = end_phase % 1.0
        index = (phase * TABLE_SIZE).astype(np.int32) & (TABLE_SIZE - 1)

        # Brightness ramps from its start level to its end level, across the frame or from the
        # note struck in it (before that the old note keeps its level); each sample crossfades the
        # two tables around its own level. (One pair of tables for the whole frame extrapolated
        # past them when the level moved more than one table in a frame, as a new organ note's
        # fast darkening does, and the frame's end no longer met the next frame's start: a click.)
        # The voice's table set changes with its note (a stolen voice's old note ends in its old tables).
        ramp_from = np.where(switch_at < FRAME_SAMPLES, switch_at, 0.0)
        ramp = np.clip((n[None, :] - ramp_from[:, None]) / (FRAME_SAMPLES - ramp_from)[:, None], 0.0, 1.0)
        level = (start_level[:, None] + (end_level - start_level)[:, None] * ramp).astype(np.float32)
        level = np.where(n[None, :] < ramp_from[:, None], hold_level.astype(np.float32)[:, None], level)
        level_floor = np.floor(level)
        mix = level - level_floor
        index += level_floor.astype(np.int32) * TABLE_SIZE
        if np.array_equal(old_base, new_base):
            index += (new_base * self._voice_stride)[:, None].astype(np.int32)
        else:
            index += np.where(n[None, :] < switch_at[:, None], (old_base * self._voice_stride)[:, None],
                              (new_base * self._voice_stride)[:, None]).astype(np.int32)
        lower = self._tables.take(index)
        upper = self._tables.take(index + TABLE_SIZE)
        wave = lower + mix * (upper - lower)
        wave *= envelopes

        pans = np.array([_pan_gains(self._pan[v]) for v in active], dtype=np.float32).T  # [2, count]
        return pans @ wave

    def _render_envelope(self, v: int, out: np.ndarray) -> None:
        """Closed-form attack/decay/release segments, split at this frame's gate events."""
        position = 0
        for event in self._events[v]:
            offset = event[0]
            if offset > position:
                self._fill_stage(v, out[position:offset])
                self._stage_time[v] += offset - position
                position = offset
            level = self._level_at(v, self._stage_time[v])
            if event[1] == "on":
                attack, sustain, decay_tau, release_tau = event[3]
                self._attack[v], self._sustain[v] = attack, sustain
                self._decay_tau[v], self._release_tau[v] = decay_tau, release_tau
                self._gate[v] = True
            else:
                self._gate[v] = False
                self._off_time[v] = _NEVER
            self._stage_level[v] = level
            self._stage_time[v] = 0.0
        if position < FRAME_SAMPLES:
            self._fill_stage(v, out[position:])
            self._stage_time[v] += FRAME_SAMPLES - position
        self._level[v] = float(out[-1])

    def _level_at(self, v: int, t: float) -> float:
        start = self._stage_level[v]
        if not self._gate[v]:
            return start * math.exp(-t / self._release_tau[v])
        attack = self._attack[v]
        if t < attack:
            return start + (1.0 - start) * t / attack
        sustain = self._sustain[v]
        return sustain + (1.0 - sustain) * math.exp(-(t - attack) / self._decay_tau[v])

    def _fill_stage(self, v: int, out: np.ndarray) -> None:
        length = len(out)
        t0 = self._stage_time[v]
        start = self._stage_level[v]
        ramp = self._sample_index[:length]
        if not self._gate[v]:
            out[:] = start * np.exp(-(t0 + ramp) / self._release_tau[v])
            return
        attack = self._attack[v]
        rising = int(min(max(math.ceil(attack - t0), 0), length))
        if rising:
            out[:rising] = start + (1.0 - start) * (t0 + ramp[:rising]) / attack
        if rising < length:
            sustain = self._sustain[v]
            since_peak = (t0 + rising - attack) + ramp[: length - rising]
            out[rising:] = sustain + (1.0 - sustain) * np.exp(-since_peak / self._decay_tau[v])

    def _free(self, v: int) -> None:
        self._role[v] = FREE
        self._note[v] = -1
        self._gain[v] = 0.0
        self._level[v] = 0.0
        self._stage_level[v] = 0.0
        self._off_time[v] = _NEVER

    def _render_drums(self) -> np.ndarray:
        out = np.zeros((2, FRAME_SAMPLES), dtype=np.float32)
        still_ringing = []
        for hit in self._hits:
            sample, position, start, left, right, _chokable = hit
            length = min(FRAME_SAMPLES - start, len(sample) - position)
            segment = sample[position : position + length]
            out[0, start : start + length] += left * segment
            out[1, start : start + length] += right * segment
            hit[1] = position + length
            hit[2] = 0
            if hit[1] < len(sample):
                still_ringing.append(hit)
        self._hits = still_ringing
        return out

    def _delay(self, dry: np.ndarray, wet_start: float, wet_end: float) -> np.ndarray:
        """A damped stereo feedback echo. Each delay exceeds a frame, so a frame reads only the past."""
        write = (self._clock + np.arange(FRAME_SAMPLES)) & (DELAY_RING - 1)
        wet = np.empty_like(dry)
        for channel, delay in enumerate(DELAY_SAMPLES):
            read = (write - delay) & (DELAY_RING - 1)
            ring = self._delay_ring[channel]
            echoed = 0.5 * (ring[read] + ring[(read - 1) & (DELAY_RING - 1)])  # two-tap low-pass on every pass
            ring[write] = dry[channel] + DELAY_FEEDBACK * echoed
            wet[channel] = echoed
        return wet * (wet_start + (wet_end - wet_start) * self._frame_ramp)

    def _finish(self, mix: np.ndarray) -> np.ndarray:
        """DC blocker, automatic gain, soft-knee limiter: float32 [1920, 2], |x| <= OUTPUT_CEILING."""
        x = mix.astype(np.float64)
        if not np.all(np.isfinite(x)):
            x = np.zeros_like(x)  # never pass NaN on; the voices recover on the next notes
        # DC blocker y[n] = x[n] - x[n-1] + R y[n-1], as a scaled cumulative sum (no per-sample loop).
        previous = np.concatenate([self._dc_last_input[:, None], x[:, :-1]], axis=1)
        difference = x - previous
        y = self._dc_pow_next * self._dc_last_output[:, None] + self._dc_pow * np.cumsum(
            difference * self._dc_inv_pow, axis=1
        )
        self._dc_last_input = x[:, -1].copy()
        self._dc_last_output = y[:, -1].copy()
        # AGC: duck at once when the frame would be too hot, recover slowly (~1.5 s); ramped.
        peak = float(np.max(np.abs(y)))
        wanted = min(1.0, AGC_TARGET_PEAK / peak) if peak > 0 else 1.0
        gain_start = self._agc_gain
        gain_end = wanted if wanted < gain_start else gain_start + (wanted - gain_start) * 0.03
        self._agc_gain = gain_end
        y *= gain_start + (gain_end - gain_start) * self._frame_ramp
        # Soft knee: linear below the knee, tanh into the ceiling above it.
        magnitude = np.abs(y)
        over = magnitude > LIMITER_KNEE
        if over.any():
            room = OUTPUT_CEILING - LIMITER_KNEE
            limited = LIMITER_KNEE + room * np.tanh((magnitude[over] - LIMITER_KNEE) / room)
            y[over] = np.sign(y[over]) * limited
        out = np.clip(y.T, -OUTPUT_CEILING, OUTPUT_CEILING).astype(np.float32)
        return np.ascontiguousarray(out)
