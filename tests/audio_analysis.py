"""Small numpy measurements of rendered audio, for tests that assert what a listener hears."""

from __future__ import annotations

import numpy as np

from mrtd.frame import SAMPLE_RATE


def mono(audio: np.ndarray) -> np.ndarray:
    """[n, 2] -> [n] float64."""
    return np.asarray(audio, dtype=np.float64).mean(axis=1) if audio.ndim == 2 else np.asarray(audio, np.float64)


def power_spectrum(signal: np.ndarray, pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectrum and its frequencies in Hz."""
    x = mono(signal)
    size = max(pad_to or 0, len(x))
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=size)) ** 2
    return spectrum, np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)


def spectral_centroid(signal: np.ndarray) -> float:
    """Power-weighted mean frequency in Hz (how bright it sounds)."""
    spectrum, freqs = power_spectrum(signal)
    total = spectrum.sum()
    return float((spectrum * freqs).sum() / total) if total > 0 else 0.0


def windowed(signal: np.ndarray, window: int, hop: int | None = None) -> list[np.ndarray]:
    hop = hop or window
    return [signal[start : start + window] for start in range(0, len(signal) - window + 1, hop)]


def dominant_frequency(signal: np.ndarray, low_hz: float = 30.0, high_hz: float = 5000.0) -> float:
    """The strongest spectral peak in a band, refined by parabolic interpolation (Hz)."""
    spectrum, freqs = power_spectrum(signal, pad_to=1 << 18)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    index = int(np.flatnonzero(band)[np.argmax(spectrum[band])])
    a, b, c = np.log(spectrum[index - 1 : index + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float((index + shift) * (freqs[1] - freqs[0]))


def band_energy_fraction(signal: np.ndarray, centre_hz: float, relative_width: float = 0.03) -> float:
    """Share of the total power within +-relative_width of centre_hz."""
    spectrum, freqs = power_spectrum(signal)
    band = np.abs(freqs - centre_hz) <= centre_hz * relative_width
    return float(spectrum[band].sum() / spectrum.sum())


def high_band_flux(signal: np.ndarray, cutoff_hz: float = 5000.0, frame: int = 1024, hop: int = 512) -> float:
    """Mean positive spectral flux above cutoff_hz: how much percussive attack there is."""
    x = mono(signal)
    window = np.hanning(frame)
    frames = np.stack([x[i : i + frame] * window for i in range(0, len(x) - frame, hop)])
    magnitudes = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(frame, 1.0 / SAMPLE_RATE)
    high = magnitudes[:, freqs >= cutoff_hz]
    rises = np.maximum(np.diff(high, axis=0), 0.0)
    return float(rises.sum(axis=1).mean())


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(signal, dtype=np.float64)))))


def dominant_notes(signal: np.ndarray, window: int = 4800, low_hz: float = 60.0, high_hz: float = 2500.0) -> np.ndarray:
    """The MIDI note of the strongest peak in each window (silent windows skipped)."""
    notes = []
    for chunk in windowed(mono(signal), window):
        if rms(chunk) < 1e-3:
            continue
        spectrum, freqs = power_spectrum(chunk, pad_to=1 << 14)
        band = (freqs >= low_hz) & (freqs <= high_hz)
        peak_hz = freqs[band][np.argmax(spectrum[band])]
        notes.append(int(round(69 + 12 * np.log2(peak_hz / 440.0))))
    return np.array(notes, dtype=int)


# ---------------------------------------------------------------- musical figures (issue 17)

ONSET_FRAME = 1024
ONSET_HOP = 512  # ~10.7 ms
ONSET_LOW_HZ = 100.0
# Onset strength below this is no onset at all, whatever the adaptive threshold says: a steady
# pad or drone wobbles at 1-5 (beating partials), a soft plucked note starts at 50 or more, a
# drum hit at hundreds. Without it the threshold sinks into that wobble and counts it.
ONSET_FLOOR = 10.0


def onset_strength(signal: np.ndarray) -> np.ndarray:
    """Positive log-magnitude spectral flux per hop: how much new sound starts there."""
    x = mono(signal)
    window = np.hanning(ONSET_FRAME)
    starts = range(0, len(x) - ONSET_FRAME, ONSET_HOP)
    frames = np.stack([x[i : i + ONSET_FRAME] * window for i in starts])
    # Scaled so a partial below about -60 dBFS adds next to nothing: the quiet tail of a drone
    # must not read as a stream of onsets.
    magnitude = np.log1p(np.abs(np.fft.rfft(frames, axis=1)) / (0.001 * ONSET_FRAME / 4))
    # Bins below ONSET_LOW_HZ are left out: a 21 ms frame is shorter than one period there, so a
    # steady low note's magnitude wobbles with its phase and read as a stream of onsets (the
    # "drone with 7 onsets/s" of docs/synth.md). A kick still shows by its attack above it.
    magnitude = magnitude[:, int(ONSET_LOW_HZ * ONSET_FRAME / SAMPLE_RATE) :]
    # Each frame is compared with the previous one widened by two bins either side (a maximum
    # filter across frequency, as in Böck and Widmer's "SuperFlux"): a vibrato's partials wobble
    # within a bin and are no onset, a new note's partials rise where nothing was.
    previous = magnitude[:-1].copy()
    for shift in (1, 2):
        previous[:, shift:] = np.maximum(previous[:, shift:], magnitude[:-1, :-shift])
        previous[:, :-shift] = np.maximum(previous[:, :-shift], magnitude[:-1, shift:])
    return np.concatenate([[0.0], np.maximum(magnitude[1:] - previous, 0.0).sum(axis=1)])


def onset_times(signal: np.ndarray, min_gap_s: float = 0.05) -> np.ndarray:
    """Onset times in seconds: local peaks of the onset strength above an adaptive threshold."""
    strength = onset_strength(signal)
    if strength.max() <= ONSET_FLOOR:
        return np.zeros(0)
    threshold = np.median(strength) + 1.5 * np.median(np.abs(strength - np.median(strength))) + 0.1 * strength.max()
    threshold = max(threshold, ONSET_FLOOR)
    hop_s = ONSET_HOP / SAMPLE_RATE
    found: list[float] = []
    for i in range(1, len(strength) - 1):
        if strength[i] > threshold and strength[i] >= strength[i - 1] and strength[i] > strength[i + 1]:
            t = i * hop_s
            if not found or t - found[-1] >= min_gap_s:
                found.append(t)
    return np.array(found)


def tempo_bpm(signal: np.ndarray, min_bpm: float = 40.0, max_bpm: float = 200.0,
              min_pulse: float = 0.3) -> tuple[float, float]:
    """(tempo in BPM, pulse strength 0..1) from the autocorrelation of the onset strength.

    The shortest lag whose autocorrelation is within 90% of the best in range wins (a bar-long
    period also correlates; the beat is the shortest). Tempo 0.0 means no pulse.
    """
    strength = onset_strength(signal)
    if strength.max() <= ONSET_FLOOR:
        return 0.0, 0.0  # nothing starts: no beat to hear
    # Smoothed over three hops first: a beat of 0.5 s is 46.875 hops, so its onsets fall 46 or 47
    # hops apart and a bare autocorrelation would split the pulse between two lags.
    strength = np.convolve(strength, np.ones(3) / 3.0, mode="same")
    strength = strength - strength.mean()
    energy = float(strength @ strength)
    if energy <= 0:
        return 0.0, 0.0
    hop_s = ONSET_HOP / SAMPLE_RATE
    lags = np.arange(int(60.0 / max_bpm / hop_s), int(60.0 / min_bpm / hop_s) + 1)
    ac = np.array([strength[:-lag] @ strength[lag:] for lag in lags]) / energy
    pulse = float(ac.max())
    # A beat needs onsets to hear it by: fewer than one in two seconds is no pulse.
    if pulse < min_pulse or onset_density(signal) < 0.5:
        return 0.0, pulse
    best = lags[int(np.flatnonzero(ac >= 0.9 * ac.max())[0])]
    return 60.0 / (best * hop_s), pulse


def onset_density(signal: np.ndarray) -> float:
    """Onsets per second."""
    return len(onset_times(signal)) / (len(signal) / SAMPLE_RATE)


def low_band_fraction(signal: np.ndarray, cutoff_hz: float = 150.0) -> float:
    """Share of the power below cutoff_hz (kick and bass weight)."""
    spectrum, freqs = power_spectrum(signal)
    return float(spectrum[freqs < cutoff_hz].sum() / spectrum.sum())


def harmonicity(signal: np.ndarray, window: int = 2400) -> float:
    """Energy-weighted mean of the best normalised autocorrelation at lags 1-20 ms (pitched vs noisy)."""
    values, weights = [], []
    low, high = int(0.001 * SAMPLE_RATE), int(0.02 * SAMPLE_RATE)
    for chunk in windowed(mono(signal), window):
        chunk = chunk - chunk.mean()
        energy = float(chunk @ chunk)
        if energy < 1e-8:
            continue
        spectrum = np.fft.rfft(chunk, n=2 * window)
        ac = np.fft.irfft(np.abs(spectrum) ** 2)[: window] / energy
        values.append(float(ac[low:high].max()))
        weights.append(energy)
    return float(np.average(values, weights=weights)) if values else 0.0


def swing_ratio(signal: np.ndarray, bpm: float) -> float:
    """Median long:short ratio of off-beat eighths (1 straight, 2 triplet swing) at a known clock."""
    beat_s = 60.0 / bpm
    phases = (onset_times(signal) / beat_s) % 1.0
    off = phases[(phases > 0.4) & (phases < 0.8)]
    if len(off) < 3:
        return 1.0
    p = float(np.median(off))
    return p / (1.0 - p)
