"""Tempo from audio: the beat of what mrtd hears, as the daemon's tempo and bar phase.

Every `ESTIMATE_HOPS` the onset strength of the last `WINDOW_S` (aubio's
onset detection function, one value per 10 ms hop) is autocorrelated; the
strongest lag between MIN_BPM and MAX_BPM, weighed by a prior around 120 BPM
that is an octave wide (so a click at 140 is not heard at 70), gives the beat
period. The onsets that fall on a grid of that period (within a tenth of a
beat of it) are then fitted with a line, beat number against time: its slope
is the period to a fraction of a hop, its last point where a beat fell. The
loudest beat of the bar, where one stands out, is the downbeat.

Hysteresis and confidence: an estimate counts only when the autocorrelation
at its lag is at least `MIN_CONFIDENCE` of its peak at lag 0 and `MIN_BEATS`
onsets lie on its grid; the tempo followed keeps the lead while its own lag
still correlates (`KEEP_SUPPORT` of the best lag's: the beats around a fill
still do); a tempo within `SAME_TEMPO` of the one followed moves
it (by more than `DEAD_BAND_BPM`, as MIDI clock's dead band), one further away
must be estimated `CONFIRM` times in a row before it is taken, so a fill or a
break does not throw the tempo.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

WINDOW_S = 4.0  # onset strength looked at: eight beats at 120 BPM
ESTIMATE_HOPS = 25  # an estimate every 250 ms
MIN_BPM, MAX_BPM = 60.0, 200.0
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0  # where a beat is looked for first, and how wide
MIN_CONFIDENCE = 0.2  # a click track's is 0.3-0.9, noise's about 0.1
MIN_BEATS = 4
GRID_TOLERANCE = 0.1  # of a beat: an onset this close to the grid is on it
SAME_TEMPO = 0.04  # 4%: closer is the same tempo drifting, further a new one
CONFIRM = 3  # estimates in a row a new tempo needs (750 ms)
KEEP_SUPPORT = 0.5  # the tempo followed stays while its lag correlates at least this share of the best lag's
DEAD_BAND_BPM = 0.2
ACCENT = 1.25  # the downbeat's onsets are this much stronger than any other beat's, on average


@dataclass(frozen=True)
class Beat:
    """What an estimate found: the tempo, where a beat fell (hop position, fractional), its place
    in the bar (None: no beat stands out as the downbeat) and how sure the estimate is."""

    bpm: float
    at_hop: float
    beat_in_bar: int | None
    confidence: float


class TempoFollower:
    def __init__(self, hops_per_second: float) -> None:
        self.hops_per_second = hops_per_second
        self._size = round(WINDOW_S * hops_per_second)
        self._strength = np.zeros(self._size, dtype=np.float64)  # a ring of onset strength, one per hop
        self._level = np.zeros(self._size, dtype=np.float64)  # a ring of each hop's RMS level
        self._hops = 0
        self._onsets: deque[float] = deque(maxlen=64)  # hop positions
        low, high = 60.0 * hops_per_second / MAX_BPM, 60.0 * hops_per_second / MIN_BPM
        self._lags = np.arange(max(2, math.floor(low)), math.ceil(high) + 1)
        self._bpms = 60.0 * hops_per_second / self._lags
        self._prior = np.exp(-0.5 * (np.log2(self._bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
        self.bpm: float | None = None  # the tempo followed (None: none yet)
        self.sent_bpm: float | None = None  # the tempo last sent (the dead band's reference)
        self.confidence = 0.0
        self._candidate: float | None = None
        self._candidate_count = 0

    def update(self, strength: float, level: float, onset_at_hop: float | None, meter: int) -> Beat | None:
        """One hop's onset strength and RMS level, and the onset found in it (its hop position),
        if any: a Beat when an estimate is due and trusted, else None."""
        # Compressed: an accented downbeat's spike would otherwise dwarf the other beats, and the
        # autocorrelation at one beat's lag (downbeat against the weaker beats) with them.
        self._strength[self._hops % self._size] = math.log1p(max(strength, 0.0))
        self._level[self._hops % self._size] = level
        self._hops += 1
        if onset_at_hop is not None:
            self._onsets.append(onset_at_hop)
        if self._hops < self._size or self._hops % ESTIMATE_HOPS:
            return None
        return self._estimate(meter)

    def _estimate(self, meter: int) -> Beat | None:
        start = self._hops % self._size
        envelope = np.concatenate((self._strength[start:], self._strength[:start]))
        envelope = envelope - envelope.mean()
        spectrum = np.fft.rfft(envelope, n=2 * self._size)
        autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[: self._size]
        if autocorrelation[0] <= 0:
            self.confidence = 0.0
            return None
        ratio = autocorrelation[self._lags] / autocorrelation[0]
        index = int(np.argmax(ratio * self._prior))
        if self.bpm is not None:  # the tempo followed keeps the lead while the beat still supports it
            near = np.flatnonzero(np.abs(self._bpms - self.bpm) <= SAME_TEMPO * self.bpm)
            if len(near):
                kept = int(near[np.argmax(ratio[near])])
                if ratio[kept] >= max(MIN_CONFIDENCE, KEEP_SUPPORT * ratio[index]):
                    index = kept
        self.confidence = float(ratio[index])
        if self.confidence < MIN_CONFIDENCE:
            return None
        lag = float(self._lags[index])
        if 0 < index < len(self._lags) - 1:  # parabolic refinement of the peak
            a, b, c = ratio[index - 1], ratio[index], ratio[index + 1]
            if a - 2 * b + c < 0:
                lag += 0.5 * (a - c) / (a - 2 * b + c)
        fitted = self._fit_grid(lag)
        if fitted is None:
            return None
        period, last_at, beats = fitted
        bpm = 60.0 * self.hops_per_second / period
        if not self._accept(bpm):
            return None
        return Beat(self.bpm or bpm, last_at, _downbeat(beats, meter), self.confidence)

    def _fit_grid(self, lag: float) -> tuple[float, float, list[tuple[int, float]]] | None:
        """(period in hops, the last beat's hop position, [(beat number, strength)]) from the
        onsets of the window that lie on the best grid of period `lag`; None when too few do."""
        oldest = self._hops - self._size
        onsets = [(t, self._loudness(t)) for t in self._onsets if t >= oldest]
        if len(onsets) < MIN_BEATS:
            return None
        best: list[tuple[float, int, float]] = []
        for reference, _ in onsets:  # the grid through the onset that has the most onsets on it
            on_grid = []
            for t, s in onsets:
                beats = (t - reference) / lag
                if abs(beats - round(beats)) <= GRID_TOLERANCE:
                    on_grid.append((t, round(beats), s))
            if len(on_grid) > len(best):
                best = on_grid
        numbers = {n for _, n, _ in best}
        if len(numbers) < MIN_BEATS:
            return None
        times = np.array([t for t, _, _ in best])
        indices = np.array([n for _, n, _ in best], dtype=np.float64)
        slope, intercept = np.polyfit(indices, times, 1)
        if not slope > 0:
            return None
        last = int(indices.max())
        return float(slope), float(intercept + slope * last), [(n - last, s) for _, n, s in best]

    def _loudness(self, at_hop: float) -> float:
        """The loudest hop level around an onset (its accent): the onset is reported a little
        before or after the attack's loudest hop."""
        first = max(round(at_hop) - 1, self._hops - self._size)
        last = min(round(at_hop) + 3, self._hops)
        return max((float(self._level[h % self._size]) for h in range(first, last)), default=0.0)

    def _accept(self, bpm: float) -> bool:
        """Hysteresis: whether `bpm` is followed now (and `self.bpm` moved to it)."""
        if self.bpm is not None and abs(bpm - self.bpm) <= SAME_TEMPO * self.bpm:
            self.bpm = bpm
            self._candidate, self._candidate_count = None, 0
            return True
        if self._candidate is not None and abs(bpm - self._candidate) <= SAME_TEMPO * self._candidate:
            self._candidate_count += 1
        else:
            self._candidate_count = 1
        self._candidate = bpm
        if self._candidate_count >= CONFIRM:
            self.bpm = bpm
            self._candidate, self._candidate_count = None, 0
            return True
        return False

    def tempo_to_send(self) -> float | None:
        """The tempo to send now, rounded to 0.1 BPM, when it moved past the dead band (else None)."""
        if self.bpm is None:
            return None
        if self.sent_bpm is None or abs(self.bpm - self.sent_bpm) > DEAD_BAND_BPM:
            self.sent_bpm = round(self.bpm, 1)
            return self.sent_bpm
        return None


def _downbeat(beats: list[tuple[int, float]], meter: int) -> int | None:
    """Where the newest beat (number 0) lies in its bar (0 = the downbeat), judged by which beat
    of the bar is loudest on average; None when none stands out by ACCENT, or the meter is 1."""
    if meter < 2:
        return None
    totals = np.zeros(meter)
    counts = np.zeros(meter)
    for number, strength in beats:
        totals[number % meter] += strength
        counts[number % meter] += 1
    if not counts.all():
        return None
    means = totals / counts
    order = np.argsort(means)
    loudest, second = means[order[-1]], means[order[-2]]
    if second <= 0 or loudest < ACCENT * second:
        return None
    return int((0 - order[-1]) % meter)  # beat 0 lies this many beats after the downbeat
