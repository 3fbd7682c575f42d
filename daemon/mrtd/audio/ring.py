"""A preallocated single-producer/single-consumer ring of stereo samples.

The generation thread writes whole frames; the audio callback reads blocks of
any size. Neither side locks: each index has exactly one writer, and CPython
publishes an int assignment atomically, after the sample copy that precedes it.
Positions count samples since the start and never wrap, so fill = written - read.
The last `keep` samples read stay in the buffer (the producer's space leaves them alone), so the
reader can play them back mirrored to conceal a gap (`mirror_into`) without holding audio back.

It lives in audio because it is what the audio callback reads: the runtime writes
into it, so the import goes runtime -> audio, the way the samples go.
"""

from __future__ import annotations

import numpy as np

from mrtd.frame import CHANNELS


class Ring:
    def __init__(self, capacity_samples: int, channels: int = CHANNELS, keep: int = 0) -> None:
        """`keep`: samples already read that the producer never overwrites (see `mirror_into`)."""
        self.capacity = int(capacity_samples)
        self.keep = int(keep)
        if not 0 <= self.keep < self.capacity:
            raise ValueError(f"a ring of {self.capacity} samples cannot keep {self.keep} behind its reader")
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
        return self.capacity - self.keep - (self._written - self._read)

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

    def mirror_into(self, out: np.ndarray, skip: int, n: int) -> int:
        """Copy what was read before the newest `skip` samples, newest first, into `out[:n]`: the
        samples at positions read-1-skip, read-2-skip, ... (a mirror of the past around the read
        position). Only the kept samples are there: returns how many were copied (the rest of `n`
        is the caller's). No allocation, and the read position does not move."""
        n = min(n, self.keep - skip, self._read - skip)
        if n <= 0:
            return 0
        newest = (self._read - 1 - skip) % self.capacity
        first = min(n, newest + 1)
        out[:first] = self._buffer[newest - first + 1 : newest + 1][::-1]
        if first < n:
            out[first:n] = self._buffer[self.capacity - (n - first) :][::-1]
        return n
