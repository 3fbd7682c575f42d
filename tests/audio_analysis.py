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
