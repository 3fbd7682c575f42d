"""Style from audio: every N bars, the last N bars heard, to be embedded as the `listen` prompt.

`StyleListener` keeps the last `MAX_SECONDS` of the input (preallocated) and,
while the `listen_style` weight is above 0, hands out a copy of the last N
bars once every N bars (at the tempo and meter the daemon has then), unless
they were silent (silence is no style to move toward). The follower hands
the copy to the style encoder's worker (style/encoder.py), which embeds it off
the generation thread with the style's audio embedder (MusicCoCa's audio path
where installed, the built-in one otherwise) and the result joins the mix as
prompt `listen`, at its own weight, like any prompt.
"""

from __future__ import annotations

import math

import numpy as np

MAX_SECONDS = 30.0  # no embedder reads more of an audio prompt (style/audio_prompt.py PROMPT_SECONDS)
MIN_LEVEL_DB = -50.0  # quieter clips are silence: no style to move toward
PROMPT = "listen"  # the prompt's name in the mix


class StyleListener:
    def __init__(self, sample_rate: int, channels: int = 2) -> None:
        self.sample_rate = sample_rate
        self._capacity = round(MAX_SECONDS * sample_rate)
        self._audio = np.zeros((self._capacity, channels), dtype=np.float32)
        self._written = 0
        self._next_at: int | None = None  # sample count at which the next clip is due
        self.clips = 0  # clips handed out

    def step(self, block: np.ndarray, bpm: float, meter: int, bars: int, on: bool) -> np.ndarray | None:
        """Keep `block` [n, channels]; the last `bars` bars as a new array when one is due, else None."""
        n = len(block)
        start = self._written % self._capacity
        first = min(n, self._capacity - start)
        self._audio[start : start + first] = block[:first]
        if first < n:
            self._audio[: n - first] = block[first:]
        self._written += n
        if not on:
            self._next_at = None
            return None
        length = min(self._capacity, round(bars * meter * 60.0 / bpm * self.sample_rate))
        if self._next_at is None:
            self._next_at = self._written + length  # the first clip once N bars have been heard
        if self._written < self._next_at:
            return None
        self._next_at = self._written + length
        clip = self._last(length)
        power = float(np.mean(clip.astype(np.float64) ** 2))
        if power <= 0.0 or 10.0 * math.log10(power) < MIN_LEVEL_DB:
            return None
        self.clips += 1
        return clip

    def _last(self, length: int) -> np.ndarray:
        end = self._written % self._capacity
        if end >= length:
            return self._audio[end - length : end].copy()
        return np.concatenate((self._audio[self._capacity - (length - end):], self._audio[:end]))
