"""A preallocated single-producer/single-consumer ring of stereo samples.

The generation thread writes whole frames; the audio callback reads blocks of
any size. Neither side locks: each index has exactly one writer, and CPython
publishes an int assignment atomically, after the sample copy that precedes it.
Positions count samples since the start and never wrap, so fill = written - read.

It lives in audio because it is what the audio callback reads: the runtime writes
into it, so the import goes runtime -> audio, the way the samples go.
"""

from __future__ import annotations

import numpy as np

from mrtd.frame import CHANNELS


class Ring:
    def __init__(self, capacity_samples: int, channels: int = CHANNELS) -> None:
        self.capacity = int(capacity_samples)
        self._buffer = np.zeros((self.capacity, channels), dtype=np.float32)
        self._written = 0  # only the producer assigns this
        self._read = 0  # only the consumer assigns this

    # -- shared view -----------------------------------------------------
    @property
    def written(self) -> int:
        """Samples written since the start (producer's position)."""
        return self._written

    @property
    def read_position(self) -> int:
        """Samples read since the start (consumer's position)."""
        return self._read

    def fill(self) -> int:
        return self._written - self._read

    def space(self) -> int:
        return self.capacity - (self._written - self._read)

    # -- producer side ---------------------------------------------------
    def write(self, samples: np.ndarray) -> None:
        """Copy `samples` [n, channels] in. The caller checks `space()` first."""
        n = len(samples)
        if n > self.space():
            raise OverflowError(f"ring has space for {self.space()} samples, not {n}")
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buffer[start : start + first] = samples[:first]
        if first < n:
            self._buffer[: n - first] = samples[first:]
        self._written += n

    # -- consumer side ---------------------------------------------------
    def read_into(self, out: np.ndarray, n: int) -> int:
        """Copy up to `n` samples into `out[:n]`; return how many were copied. No allocation."""
        n = min(n, self._written - self._read)
        if n <= 0:
            return 0
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buffer[start : start + first]
        if first < n:
            out[first:n] = self._buffer[: n - first]
        self._read += n
        return n
