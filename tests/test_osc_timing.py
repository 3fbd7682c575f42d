"""Timetags land in the frame heard at their time; floods and fuzz leave the music alone."""

from __future__ import annotations

import os
import random
import time

import numpy as np
import pytest

from conftest import clocked_daemon, control_state, timetag_misses, wait_for
from mrtd.vocabulary.codec import PacketError, timed_messages
from mrtd.inputs.osc.table import ROUTES
from osc_probe import bundle, message


@pytest.fixture
def rig(tmp_path):
    with clocked_daemon(tmp_path) as playing:
        yield playing


def test_a_timetagged_bundle_lands_in_the_frame_that_covers_its_time(rig):
    daemon, engine, sink, probe = rig
    misses = timetag_misses(engine, sink, probe, 12)
    assert misses == [0] * 12, f"frames off: {misses}"
    assert daemon.status()["underruns"] == 0
    assert daemon.control.late == 0


def test_late_and_immediate_bundles_apply_at_once_and_late_ones_are_counted(rig):
    daemon, engine, sink, probe = rig
    probe.send_raw(bundle(time.time() - 1.0, message("/mrt/temperature", 2.9)))
    wait_for(lambda: engine.seen[-1].temperature == pytest.approx(2.9), 5, "the late bundle")
    assert daemon.control.late == 1
    probe.send_raw(bundle(None, message("/mrt/temperature", 0.7)))
    wait_for(lambda: engine.seen[-1].temperature == pytest.approx(0.7), 5, "the immediate bundle")
    assert daemon.control.late == 1


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_flood_of_fader_moves_causes_no_underrun_and_no_growth(rig):
    daemon, engine, sink, probe = rig
    rate, seconds = 5000, 10
    batch = 50  # one batch every 10 ms
    packets = [message("/mrt/cfg/style", float(v)) for v in np.linspace(-1, 7, 997)]
    rss_before = _rss_bytes()
    started = time.monotonic()
    sent = 0
    for tick in range(rate * seconds // batch):
        due = started + tick * batch / rate
        while time.monotonic() < due:
            time.sleep(0.001)  # paces the sender only, not the daemon
        for _ in range(batch):
            probe.send_raw(packets[sent % len(packets)])
            sent += 1
    elapsed = time.monotonic() - started
    wait_for(lambda: daemon.control.pending() == 0, 5, "the schedule to drain")
    status = daemon.status()
    assert status["underruns"] == 0
    assert daemon.control.coalesced > sent // 2, "moves inside one frame coalesce"
    assert _rss_bytes() - rss_before < 32 * 2**20, "memory stays bounded"
    assert elapsed < seconds * 1.2
    assert daemon.osc.counters.messages >= sent * 0.95, "the server kept up (UDP may drop a few)"


def _mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    seeds = [
        message("/mrt/temperature", 1.0),
        message("/mrt/mix", "a", 1.0, "b", 0.5, 2.0, "linear"),
        message("/mrt/style/tokens", *range(12)),
        message("/mrt/note/on", 60, 100),
        bundle(time.time() + 0.1, message("/mrt/cfg/notes", 2.0), message("/mrt/xy", 0.5, 0.5)),
    ]
    out = []
    while len(out) < count:
        if rng.random() < 0.3:
            packet = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        else:
            packet = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 4)):
                kind = rng.random()
                if kind < 0.5 and packet:
                    packet[rng.randrange(len(packet))] = rng.getrandbits(8)
                elif kind < 0.75:
                    packet = packet[: rng.randrange(len(packet) + 1)]
                else:
                    packet += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
            packet = bytes(packet)
        try:  # keep only packets that can never be a valid command, so state must not move
            if any(address in ROUTES for _, address, _ in timed_messages(packet)):
                continue
        except PacketError:
            pass
        out.append(packet)
    return out


def test_fuzzing_leaves_the_daemon_playing_and_its_state_unchanged(rig):
    daemon, engine, sink, probe = rig
    packets = _mutations(seed=1234, count=20_000)
    before = control_state(daemon)
    counters = daemon.osc.counters
    for start in range(0, len(packets), 100):  # 100 at a time: well within the kernel's socket buffer
        for packet in packets[start : start + 100]:
            probe.send_raw(packet)
        target = start + 100
        # Every packet taken (parsed, or shed on purpose) before the next batch: a ping sent
        # into a full queue would be shed like any other packet, which is not what this asks.
        wait_for(lambda: counters.packets + counters.dropped >= target, 10, "the server to keep up")
    assert probe.request("/mrt/ping", "/mrt/pong", 1) == [1], "still answering"
    assert control_state(daemon) == before
    assert daemon.status()["underruns"] == 0
    assert counters.errors >= len(packets) * 0.9
    assert counters.errors_suppressed > 0, "error replies are rate-limited"


def test_a_big_heap_of_libraries_does_not_let_the_collector_starve_the_generator(tmp_path):
    """Loaded libraries leave hundreds of thousands of objects behind (magenta-rt's: 240,000);
    a full collection over them holds the GIL for over 100 ms. The started daemon's heap is
    frozen, so full collections while it plays (here one every half second, among a flood of
    messages) stay short."""
    import gc

    libraries = [{"module": i, "names": [i]} for i in range(300_000)]  # what big imports leave behind
    with clocked_daemon(tmp_path) as (daemon, _engine, _sink, probe):
        packets = [message("/mrt/cfg/style", float(v)) for v in np.linspace(-1, 7, 97)]
        longest = 0.0
        for _ in range(8):
            for packet in packets:
                probe.send_raw(packet)
            started = time.perf_counter()
            gc.collect()
            longest = max(longest, time.perf_counter() - started)
            frames = daemon.generator.frames
            wait_for(lambda: daemon.generator.frames >= frames + 12, 5, "half a second of music")
        wait_for(lambda: daemon.control.pending() == 0, 5, "the schedule to drain")
        print(f"longest full collection while playing: {longest * 1000:.1f} ms")
        assert daemon.status()["underruns"] == 0
    del libraries
