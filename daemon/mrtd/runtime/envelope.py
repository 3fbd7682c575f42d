"""Per-sample one-pole gain envelopes: the official runner's MIDI gate and reset fade-in.

The official runner (magenta-realtime 2.0.3, core/include/magentart/realtime_runner.h,
`ExponentialEnvelope`, ticked once per output sample in core/src/realtime_runner.cpp
`read_audio_stereo`) moves a gain toward its target by a fixed share of the distance left,
every sample: share = 1 - exp(-ln(100) / N), so it covers 99% of any step in N samples. The
attack's share applies while the target is above the gain, the release's while it is below.

mrtd shapes a frame at a time on the generation thread, not an audio block in the callback:
targets change only at frame boundaries here (commands land on frames), so within a frame
the gain follows the closed form g(n) = target + (g0 - target) * (1 - share)^(n + 1),
n = 0..1919, the same values the official loop reaches (to float rounding). The powers are
computed once, one column per channel (numpy allocates a temporary to broadcast one column
over two); a frame is one multiply and one add into a buffer made once, so the generation
thread allocates nothing for it. Within SETTLED of its target (-120 dB) the gain
snaps to it and costs nothing more (the official float32 gain creeps on within a few ulps
of it: the same to a listener).
"""

from __future__ import annotations

import math

import numpy as np

from mrtd.frame import CHANNELS, FRAME_SAMPLES

SETTLED = 1e-6  # -120 dB from the target: snapped to it


def share_per_sample(samples_to_99: float) -> float:
    """The official envelope's per-sample share of the distance left: 1 - exp(-ln(100) / N)."""
    return 1.0 - math.exp(-math.log(100.0) / samples_to_99)


class OnePoleEnvelope:
    """A gain moving toward a target each sample, by the attack's share (rising) or the release's (falling)."""

    def __init__(self, attack_samples: float, release_samples: float, value: float = 1.0) -> None:
        self.value = float(value)  # the gain after the last sample of the last frame
        steps = np.arange(1, FRAME_SAMPLES + 1, dtype=np.float64)[:, None].repeat(CHANNELS, axis=1)
        # Per sample n of a frame (and channel): how much of the distance at the frame's start is left.
        self._attack_left = ((1.0 - share_per_sample(attack_samples)) ** steps).astype(np.float32)
        self._release_left = ((1.0 - share_per_sample(release_samples)) ** steps).astype(np.float32)
        self._gains = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)

    def jump(self, value: float) -> None:
        """Set the gain at once (the official reset's cut to 0), to move on from there."""
        self.value = float(value)

    def frame(self, target: float) -> "np.ndarray | float":
        """One frame's gains toward `target`: a float when the gain is settled there (every sample
        the same), else a float32 [1920, 2] buffer reused every frame (valid until the next call)."""
        start = self.value
        if start == target:
            return start
        left = self._attack_left if target > start else self._release_left
        np.multiply(left, start - target, out=self._gains)
        self._gains += target
        end = target + (start - target) * float(left[-1, 0])
        self.value = target if abs(end - target) < SETTLED else end
        return self._gains


def is_unity(gain: "np.ndarray | float") -> bool:
    """Whether `gain` (from `OnePoleEnvelope.frame`) leaves a frame as it is."""
    return not isinstance(gain, np.ndarray) and gain == 1.0
