"""Channel routing: the music on the chosen channels, silence on the others; JACK names and patching."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.audio.playout import Playout, playout_ring
from mrtd.audio.routing import ChannelMap
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from conftest import wait_for
from output_rig import assert_no_silent_block, jack_connections, jack_record, private_jack

BLOCK = 256


def _two_tones(n: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 300 * t), 0.3 * np.sin(2 * np.pi * 700 * t)], axis=1).astype(np.float32)


def _route(channel_map: ChannelMap, blocks: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(what the map put in the device buffer, what a plain stereo playout gives) for the same ring."""
    source = _two_tones(8 * FRAME_SAMPLES)
    routed_ring, plain_ring = playout_ring(9 * FRAME_SAMPLES), playout_ring(9 * FRAME_SAMPLES)
    routed_ring.write(source)
    plain_ring.write(source)
    fill = channel_map.callback_fill(Playout(routed_ring).fill, 4096)
    plain = Playout(plain_ring)
    routed_out = np.empty((blocks * BLOCK, channel_map.device_channels), np.float32)
    plain_out = np.empty((blocks * BLOCK, 2), np.float32)
    for i in range(blocks):
        block = slice(i * BLOCK, (i + 1) * BLOCK)
        routed_out[block] = 9.0  # garbage, as a real device buffer may hold
        fill(routed_out[block], 0.0)
        plain.fill(plain_out[block], 0.0)
    return routed_out, plain_out


def test_stereo_lands_on_channels_3_and_4_of_8_and_the_rest_are_silent():
    routed, plain = _route(ChannelMap.parse("3,4", device_channels=8))
    np.testing.assert_array_equal(routed[:, 2], plain[:, 0])
    np.testing.assert_array_equal(routed[:, 3], plain[:, 1])
    assert not np.delete(routed, [2, 3], axis=1).any()
    assert np.abs(plain).max() > 0.25


def test_mono_folds_left_and_right_onto_one_channel():
    routed, plain = _route(ChannelMap.parse("5", mono=True, device_channels=6))
    np.testing.assert_allclose(routed[:, 4], (plain[:, 0] + plain[:, 1]) / 2, atol=1e-7)
    assert not np.delete(routed, [4], axis=1).any()
    single, _ = _route(ChannelMap.parse(None, mono=True))
    assert single.shape[1] == 1 and np.abs(single).max() > 0.2


def _peak_bytes(fill, out: np.ndarray, calls: int = 200) -> int:
    """Peak traced memory above the baseline while calling `fill` (after a warm-up)."""
    for _ in range(3 * calls):  # warm-up: ufunc and dtype caches fill on first use
        fill(out, 0.0)
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(calls):
            fill(out, 0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline


def test_the_routed_callback_allocates_no_array():
    """Routing adds no array to the plain playout's steady state (the smallest would be one
    256-sample float32 column, 1 KiB); what remains is the interpreter's own small objects."""
    ring = playout_ring(9 * FRAME_SAMPLES)
    frame = _two_tones(FRAME_SAMPLES)
    plain = Playout(ring)

    def topped_up(fill):
        def call(out, output_time):
            while ring.space() >= FRAME_SAMPLES:
                ring.write(frame)
            fill(out, output_time)
        return call

    # An array made per call raises every measurement by its size; the interpreter's own
    # objects (a dict growing, a frame) raise some. So the quietest of several runs counts.
    runs = 5
    baseline = min(_peak_bytes(topped_up(plain.fill), np.zeros((BLOCK, 2), np.float32)) for _ in range(runs))
    for channel_map in (ChannelMap.stereo(3, 4, device_channels=8), ChannelMap.mono(3, device_channels=8)):
        routed = topped_up(channel_map.callback_fill(plain.fill, 4096))
        out = np.zeros((BLOCK, channel_map.device_channels), np.float32)
        extra = min(_peak_bytes(routed, out) for _ in range(runs)) - baseline
        assert extra < BLOCK * 4, f"{channel_map.describe()}: {extra} bytes more than the plain fill"


@pytest.mark.parametrize("spec", ["0,1", "3,3", "1,2,3", "9,10"])
def test_bad_channel_choices_are_refused_with_a_reason(spec):
    with pytest.raises(ValueError):
        ChannelMap.parse(spec, device_channels=8)


def test_an_8_channel_jack_device_plays_on_3_and_4_only(tmp_path):
    with private_jack(SAMPLE_RATE, playback_ports=8):
        config = DaemonConfig(engine="synth", prompt="warm analog pads", osc=None, midi=False,
                              cache_dir=str(tmp_path), channels="3,4", device_channels=8)
        daemon = Daemon(config)
        daemon.start()
        try:
            status = daemon.status()
            assert status["channels"] == "stereo on channels 3,4 of 8" and status["jack_client"] == "mrtd"
            wait_for(lambda: daemon.generator.frames > 30, 10, "the music to start")
            ports = [f"mrtd:out_{i}" for i in range(8)]
            heard = jack_record(ports, 2.0, tmp_path / "eight.wav")
            connections = jack_connections()
            ring_gaps, server_xruns = daemon.playout.underruns, daemon.output.device_underruns
        finally:
            daemon.stop()
    # mrtd's own side never fell behind with 8 channels to fill. The JACK server's xruns are shown,
    # not judged: this dummy server runs without real-time priority, and on a 2-core machine its
    # cycle can miss a deadline while jack_rec joins the graph (PortAudio then flags every client).
    assert ring_gaps == 0, f"the ring ran dry {ring_gaps} times (JACK server xruns: {server_xruns})"
    assert_no_silent_block(heard[:, 2:4])
    level = np.sqrt(np.mean(heard**2, axis=0))
    assert level[2] > 0.01 and level[3] > 0.01, level
    assert not np.delete(heard, [2, 3], axis=1).any(), level
    assert connections["mrtd:out_2"] == ["system:playback_3"], "PortAudio auto-connects to the system ports"


def test_configured_jack_ports_replace_the_default_connections(tmp_path):
    with private_jack(SAMPLE_RATE, playback_ports=8):
        config = DaemonConfig(engine="synth", osc=None, midi=False, cache_dir=str(tmp_path),
                              jack_ports=["system:playback_7", "system:playback_8"])
        daemon = Daemon(config)
        daemon.start()
        try:
            connections = jack_connections()
        finally:
            daemon.stop()
    assert connections["mrtd:out_0"] == ["system:playback_7"]
    assert connections["mrtd:out_1"] == ["system:playback_8"]
