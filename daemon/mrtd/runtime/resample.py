"""48 kHz model frames to the device's rate, on the generation thread (never in the callback).

python-soxr's streaming resampler keeps its filter state between frames, so
the converted stream is one continuous signal: no clicks at frame edges and
no drift (the ratio is exact, not rounded per frame). soxr also removes its
own filter delay, so output sample j is the input at time j / rate: model
frame k starts at device sample round(k * 1920 * rate / 48000), which is what
`Playout.frame_start` and the frame clock rely on. What soxr holds back to
look ahead (about 7-15 ms at 44.1 kHz) reaches the ring with the next frames.
"""

from __future__ import annotations

import math

import numpy as np

from mrtd.frame import CHANNELS, FRAME_SAMPLES, SAMPLE_RATE

QUALITY = "HQ"  # soxr "high quality": 20-bit precision, passband to 91 % of Nyquist


class RateConverter:
    """Converts each 48 kHz stereo frame to `out_rate`; output blocks vary in length, the total does not."""

    def __init__(self, out_rate: int, in_rate: int = SAMPLE_RATE, quality: str = QUALITY) -> None:
        try:
            import soxr
        except ImportError as exc:  # a declared dependency, but say what to do if it is missing
            raise RuntimeError("resampling needs python-soxr: pip install soxr") from exc
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream = soxr.ResampleStream(in_rate, out_rate, CHANNELS, dtype="float32", quality=quality)
        # soxr releases its output in bursts (up to about 1.3 nominal frames at once): the
        # ring must have room for the largest block on top of the lead.
        self.max_block = 2 * math.ceil(FRAME_SAMPLES * out_rate / in_rate) + 64
        self.samples_in = 0
        self.samples_out = 0
        self.look_ahead = self._measure_look_ahead()

    def _measure_look_ahead(self) -> int:
        """The most output soxr holds back in steady state, measured on a scratch stream of silence."""
        import soxr

        scratch = soxr.ResampleStream(self.in_rate, self.out_rate, CHANNELS, dtype="float32", quality=self.quality)
        silence = np.zeros((FRAME_SAMPLES, CHANNELS), np.float32)
        produced, most = 0, 0
        for k in range(1, 26):
            produced += len(scratch.resample_chunk(silence))
            most = max(most, k * FRAME_SAMPLES * self.out_rate // self.in_rate - produced)
        return most

    def convert(self, frame: np.ndarray) -> np.ndarray:
        """One frame in, whatever soxr has ready out (a new array: the ring copies it)."""
        block = self._stream.resample_chunk(np.ascontiguousarray(frame, dtype=np.float32))
        self.samples_in += len(frame)
        self.samples_out += len(block)
        return block

    def held_back(self) -> int:
        """Output samples owed for the input so far: the resampler's look-ahead (latency)."""
        return self.samples_in * self.out_rate // self.in_rate - self.samples_out

    def describe(self) -> str:
        return f"soxr {self.quality} {self.in_rate}->{self.out_rate}"

