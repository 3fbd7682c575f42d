"""Cost of the audio callback's work: `Playout.fill` on a 256-sample block.

    .venv/bin/python benchmarks/bench_playout.py [--calls 200000] [--block 256]

The ring is kept full by writing frames between calls (not timed), so every
timed call is the steady-state path the device callback runs; then the call
that finds the ring short (a gap's first block: what is left, then the mirror). When the
routing module is present it also times the callback's copy into the mapped
columns of an 8-channel buffer (channels 3-4) and the mono fold.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from mrtd.audio.playout import Playout, playout_ring  # noqa: E402
from mrtd.frame import FRAME_SAMPLES  # noqa: E402
from mrtd.audio.ring import Ring  # noqa: E402


def time_calls(call, ring: Ring, calls: int) -> list[float]:
    """Per-call wall time in microseconds; the ring is topped up outside the timed region."""
    frame = (np.random.default_rng(1).standard_normal((FRAME_SAMPLES, 2)) * 0.1).astype(np.float32)
    costs = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        while ring.space() >= FRAME_SAMPLES:
            ring.write(frame)
        started = clock()
        call()
        costs.append((clock() - started) / 1000.0)
    return costs


def gap_costs(block: int, calls: int) -> list[float]:
    """Per-call wall time (µs) of the call that finds the ring short: it plays the half block left,
    then the past mirrored, faded out. Each is set up afresh outside the timed region."""
    frame = (np.random.default_rng(1).standard_normal((FRAME_SAMPLES, 2)) * 0.1).astype(np.float32)
    out = np.zeros((block, 2), dtype=np.float32)
    source = np.concatenate([frame, frame])[: block * 9 + block // 2]
    costs = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        playout = Playout(playout_ring(4 * FRAME_SAMPLES))
        playout.ring.write(source)
        while playout.ring.fill() >= block:
            playout.fill(out, 1.0)
        started = clock()
        playout.fill(out, 1.0)
        costs.append((clock() - started) / 1000.0)
        assert playout.underruns == 1
    return costs


def report(label: str, costs: list[float]) -> None:
    costs = costs[len(costs) // 10 :]  # drop the warm-up
    q = statistics.quantiles(costs, n=100)
    print(f"{label:<38} mean {statistics.fmean(costs):6.2f} µs   p50 {q[49]:6.2f}   p99 {q[98]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--block", type=int, default=256)
    args = parser.parse_args()

    ring = playout_ring(8 * FRAME_SAMPLES)
    playout = Playout(ring)
    stereo = np.zeros((args.block, 2), dtype=np.float32)
    report(f"Playout.fill, {args.block} x 2", time_calls(lambda: playout.fill(stereo, 1.0), ring, args.calls))

    report(f"the block a gap starts in, {args.block} x 2", gap_costs(args.block, max(args.calls // 10, 1000)))

    try:
        from mrtd.audio.routing import ChannelMap
    except ImportError:
        return
    for channel_map, label in (
        (ChannelMap.stereo(3, 4, device_channels=8), "fill + route to 3-4 of 8"),
        (ChannelMap.mono(1, device_channels=1), "fill + fold to mono"),
    ):
        ring = playout_ring(8 * FRAME_SAMPLES)
        playout = Playout(ring)
        out = np.zeros((args.block, channel_map.device_channels), dtype=np.float32)
        callback = channel_map.callback_fill(playout.fill, args.block)
        report(label, time_calls(lambda: callback(out, 1.0), ring, args.calls))


if __name__ == "__main__":
    main()
