"""The output stage: a feedback echo, a DC blocker, automatic gain and a soft-knee limiter,
so every frame leaves as float32 [1920, 2] within a -1 dBFS ceiling."""

from __future__ import annotations

import math

import numpy as np

from mrtd.engines.synth.voices import FRAME_RAMP
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE

OUTPUT_CEILING = 0.891  # -1 dBFS, never exceeded
LIMITER_KNEE = 0.6  # below this the limiter is exactly linear
AGC_TARGET_PEAK = 0.7

DELAY_SAMPLES = (int(0.33 * SAMPLE_RATE), int(0.44 * SAMPLE_RATE))  # L, R: both longer than a frame
DELAY_RING = 1 << 15
DELAY_FEEDBACK = 0.38
DC_BLOCKER_POLE = 1.0 - 2.0 * math.pi * 8.0 / SAMPLE_RATE  # ~8 Hz high-pass


def echo_send(attack: float, density: float) -> float:
    """How much of the voices the echo takes: slow attacks and sparse styles echo more."""
    return 0.06 + 0.26 * (1.0 - attack) * (1.0 - 0.5 * density)


class OutputStage:
    """Echo, DC blocker, AGC and limiter, each with the state it carries from frame to frame."""

    def __init__(self) -> None:
        # DC blocker in closed form: y[n] = R^(n+1) y[-1] + R^n * cumsum(R^-k d[k]).
        n = np.arange(FRAME_SAMPLES, dtype=np.float64)
        self._dc_pow = DC_BLOCKER_POLE**n
        self._dc_pow_next = DC_BLOCKER_POLE ** (n + 1)
        self._dc_inv_pow = DC_BLOCKER_POLE**-n
        self.reset()

    def reset(self) -> None:
        self._written = 0  # samples written into the echo's ring since reset
        self._delay_ring = np.zeros((2, DELAY_RING), dtype=np.float32)
        self._delay_wet = 0.0
        self._agc_gain = 1.0
        self._dc_last_input = np.zeros(2)
        self._dc_last_output = np.zeros(2)

    def with_echo(self, voices: np.ndarray, send: float) -> np.ndarray:
        """The voices [2, 1920] and their echo, its send ramped from the last frame's to `send`."""
        wet = self._delay_wet
        self._delay_wet = send
        mix = voices + self._delay(voices, wet, self._delay_wet)
        self._written += FRAME_SAMPLES
        return mix

    def _delay(self, dry: np.ndarray, wet_start: float, wet_end: float) -> np.ndarray:
        """A damped stereo feedback echo. Each delay exceeds a frame, so a frame reads only the past."""
        write = (self._written + np.arange(FRAME_SAMPLES)) & (DELAY_RING - 1)
        wet = np.empty_like(dry)
        for channel, delay in enumerate(DELAY_SAMPLES):
            read = (write - delay) & (DELAY_RING - 1)
            ring = self._delay_ring[channel]
            echoed = 0.5 * (ring[read] + ring[(read - 1) & (DELAY_RING - 1)])  # two-tap low-pass on every pass
            ring[write] = dry[channel] + DELAY_FEEDBACK * echoed
            wet[channel] = echoed
        return wet * (wet_start + (wet_end - wet_start) * FRAME_RAMP)

    def finish(self, mix: np.ndarray) -> np.ndarray:
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
        y *= gain_start + (gain_end - gain_start) * FRAME_RAMP
        # Soft knee: linear below the knee, tanh into the ceiling above it.
        magnitude = np.abs(y)
        over = magnitude > LIMITER_KNEE
        if over.any():
            room = OUTPUT_CEILING - LIMITER_KNEE
            limited = LIMITER_KNEE + room * np.tanh((magnitude[over] - LIMITER_KNEE) / room)
            y[over] = np.sign(y[over]) * limited
        out = np.clip(y.T, -OUTPUT_CEILING, OUTPUT_CEILING).astype(np.float32)
        return np.ascontiguousarray(out)
