"""The synth's sound material: the instrument voices' band-limited wavetables and shapes, and
the drum one-shots. Built once per process from fixed spectra and a fixed seed, read-only."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mrtd.frame import SAMPLE_RATE

TABLE_SIZE = 4096  # power of two: phase -> index is a multiply and a mask
TABLE_LEVELS = 32
HIGHEST_PARTIAL_HZ = 19_000.0  # keep every table's top harmonic under this (no aliasing)

# Instrument voices. Each has its own wavetable set; tables with a ratio above 1 hold one cycle of
# a sub-fundamental (note / ratio), so the bell's inharmonic and the organ's sub-octave partials
# fit in a single cycle.
VOICE_NAMES = ("synth", "piano", "pluck", "bowed", "bell", "pad", "organ", "lead")
SYNTH, PIANO, PLUCK, BOWED, BELL, PAD_VOICE, ORGAN, LEAD = range(len(VOICE_NAMES))
# name: (table ratio, attack s, decay tau s, sustain, release tau s,
#        brightness decay tau s (0: none), brightness floor, brightness scale,
#        vibrato depth (frequency ratio), vibrato Hz, gain, note length factor, register shift)
VOICE_SHAPES: dict[str, tuple[float, ...]] = {
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


VOICE_HARMONICS = {"piano": 40, "pluck": 48, "bowed": 48, "pad": 24, "bell": 33, "organ": 32, "lead": 64}


def _table_from_spectrum(amplitude: np.ndarray) -> np.ndarray:
    """One cycle of sine partials with these amplitudes (harmonic 1 first), at RMS 0.5."""
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : len(amplitude) + 1] = -1j * amplitude
    wave = np.fft.irfft(spectrum, n=TABLE_SIZE)
    return wave / (2.0 * np.sqrt(np.mean(wave**2)))  # equal loudness: RMS 0.5


@lru_cache(maxsize=1)
def build_wavetables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        ratio = VOICE_SHAPES[name][0]
        ratios[voice] = ratio
        most = VOICE_HARMONICS[name]
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
def build_drum_samples() -> dict[str, np.ndarray]:
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
