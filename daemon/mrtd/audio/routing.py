"""Which device channels the stereo pair lands on: any two of a multichannel device, or one (mono).

Channel numbers are 1-based, as they are printed on interfaces and in JACK
(`system:playback_3`). The map builds the device callback's fill function;
everything it touches in the callback is preallocated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mrtd.frame import CHANNELS

FillFunction = Callable[[np.ndarray, float], None]

MONO_GAIN = 0.5  # (L + R) / 2: a centred source keeps its level and the fold never clips


@dataclass(frozen=True)
class ChannelMap:
    channels: tuple[int, ...]  # 1-based device channels: (left, right), or (mono,)
    device_channels: int  # how many channels the device stream is opened with

    def __post_init__(self) -> None:
        if len(self.channels) not in (1, 2):
            raise ValueError("route the music to two channels (stereo) or one (mono)")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels {self.channels} repeat a channel")
        for channel in self.channels:
            if not 1 <= channel <= self.device_channels:
                raise ValueError(f"channel {channel} is not one of the device's {self.device_channels} channels")

    @classmethod
    def stereo(cls, left: int = 1, right: int = 2, device_channels: int | None = None) -> "ChannelMap":
        return cls((left, right), device_channels or max(left, right, CHANNELS))

    @classmethod
    def mono(cls, channel: int = 1, device_channels: int | None = None) -> "ChannelMap":
        return cls((channel,), device_channels or channel)

    @classmethod
    def parse(cls, channels: str | None, mono: bool = False, device_channels: int | None = None) -> "ChannelMap":
        """From the CLI/config form: `channels` "3,4" (or "3" with mono), 1-based."""
        numbers = [int(part) for part in channels.replace("-", ",").split(",")] if channels else []
        if mono:
            if len(numbers) > 1:
                raise ValueError("--mono takes one channel: --channels N")
            return cls.mono(numbers[0] if numbers else 1, device_channels)
        if not numbers:
            return cls.stereo(1, 2, device_channels)
        if len(numbers) != 2:
            raise ValueError(f"--channels wants two channels, such as 3,4 (got {channels!r}); use --mono for one")
        return cls.stereo(numbers[0], numbers[1], device_channels)

    @property
    def is_mono(self) -> bool:
        return len(self.channels) == 1

    @property
    def is_identity(self) -> bool:
        """Stereo on channels 1-2 of a 2-channel device: the playout can fill the device buffer directly."""
        return self.channels == (1, 2) and self.device_channels == CHANNELS

    def describe(self) -> str:
        if self.is_mono:
            return f"mono on channel {self.channels[0]} of {self.device_channels}"
        return f"stereo on channels {self.channels[0]},{self.channels[1]} of {self.device_channels}"

    def callback_fill(self, fill: FillFunction, max_block: int) -> FillFunction:
        """A fill function for the device buffer [n, device_channels], built on the stereo `fill`.

        Runs in the device callback: the stereo scratch is made here, and the copy into
        the mapped columns writes through views, so a call allocates no array.
        """
        if self.is_identity:
            return fill
        scratch = np.zeros((max_block, CHANNELS), dtype=np.float32)
        columns = [channel - 1 for channel in self.channels]

        if self.is_mono:
            (target,) = columns

            def fill_mono(out: np.ndarray, output_time: float) -> None:
                stereo = scratch[: len(out)]
                fill(stereo, output_time)
                if out.shape[1] > 1:
                    out.fill(0.0)
                column = out[:, target]
                np.add(stereo[:, 0], stereo[:, 1], out=column)
                np.multiply(column, MONO_GAIN, out=column)

            return fill_mono

        left, right = columns

        def fill_routed(out: np.ndarray, output_time: float) -> None:
            stereo = scratch[: len(out)]
            fill(stereo, output_time)
            out.fill(0.0)
            out[:, left] = stereo[:, 0]
            out[:, right] = stereo[:, 1]

        return fill_routed
