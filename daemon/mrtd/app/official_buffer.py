"""The official `buffersize` message in mrtd's terms: samples kept ahead -> a latency preset.

The official runner keeps a ring of `buffersize` samples ahead of the host's callback and fills it
as fast as its inference thread can (core/include/magentart/realtime_runner.h `set_buffer_size`,
core/include/magentart/ring_buffer.h `set_virtual_capacity`): the externals clamp a size below one
frame up to 1920 samples (examples/max/mrt_tilde.mm, examples/pd/mrt_tilde.mm `mrt_buffersize`),
the ring caps it at its 8192 samples (`RingBuffer::kCapacity`), and the AU plugin offers 2048, 4096
and 8192. mrtd keeps whole frames ahead instead (audio/outputs.py `LATENCY_PRESETS`), so a size is
mapped onto the preset whose lead is nearest in frames (a tie goes to the longer lead: the official
message asks for headroom). Read from the official code, not copied.

Issue 30 turns the presets into margins in milliseconds: then a size maps onto the margin it is
(samples / 48 ms) rather than onto the nearest preset.
"""

from __future__ import annotations

from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.frame import FRAME_SAMPLES

OFFICIAL_MIN_SAMPLES = FRAME_SAMPLES  # `mrt_buffersize`: below one frame is clamped up to it
OFFICIAL_MAX_SAMPLES = 8192  # `RingBuffer::kCapacity`: `set_virtual_capacity` caps there


def official_samples(samples: int) -> int:
    """`samples` as the official runner would hold it: within 1920-8192."""
    return min(max(int(samples), OFFICIAL_MIN_SAMPLES), OFFICIAL_MAX_SAMPLES)


def preset_for(samples: int) -> str:
    """The latency preset nearest to keeping `samples` (after the official clamp) ahead."""
    frames = official_samples(samples) / FRAME_SAMPLES
    return min(LATENCY_PRESETS, key=lambda name: (abs(LATENCY_PRESETS[name].lead_frames - frames),
                                                  -LATENCY_PRESETS[name].lead_frames))
