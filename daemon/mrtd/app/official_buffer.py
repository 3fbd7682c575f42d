"""The official `buffersize` message in mrtd's terms: samples kept ahead -> a margin in ms.

The official runner keeps a ring of `buffersize` samples ahead of the host's callback and fills it
as fast as its inference thread can (core/include/magentart/realtime_runner.h `set_buffer_size`,
core/include/magentart/ring_buffer.h `set_virtual_capacity`): the externals clamp a size below one
frame up to 1920 samples (examples/max/mrt_tilde.mm, examples/pd/mrt_tilde.mm `mrt_buffersize`),
the ring caps it at its 8192 samples (`RingBuffer::kCapacity`), and the AU plugin offers 2048, 4096
and 8192. mrtd makes each frame just in time, a step plus a margin ahead of the listener
(runtime/pacing.py), so a size is the margin it holds: samples / 48 kHz, in ms. That is more
headroom than the official ring gives (mrtd adds the step's own time on top): the official message
asks for headroom, and mrtd does not give less. Read from the official code, not copied.
"""

from __future__ import annotations

from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE

OFFICIAL_MIN_SAMPLES = FRAME_SAMPLES  # `mrt_buffersize`: below one frame is clamped up to it
OFFICIAL_MAX_SAMPLES = 8192  # `RingBuffer::kCapacity`: `set_virtual_capacity` caps there


def official_samples(samples: int) -> int:
    """`samples` as the official runner would hold it: within 1920-8192."""
    return min(max(int(samples), OFFICIAL_MIN_SAMPLES), OFFICIAL_MAX_SAMPLES)


def margin_ms_for(samples: int) -> float:
    """The margin (ms) a buffer of `samples` (after the official clamp) holds at 48 kHz."""
    return round(official_samples(samples) * 1000.0 / SAMPLE_RATE, 1)


def latency_for(margin_ms: float) -> str:
    """What `--latency` takes for `margin_ms`: a preset's name where one has that margin, else the number."""
    for name, preset in LATENCY_PRESETS.items():
        if abs(preset.margin_ms - margin_ms) < 0.05:
            return name
    return f"{margin_ms:g}"
