"""A reset at the start of the host's transport, and the skip after a prefill, by the official rules.

The rules are magenta-realtime 2.0.3's: the AU plugin calls `trigger_transport_reset` when the
host's beat position arrives at 0, once per arrival, the first block at 0 counting
(examples/mrt2/auv3/MagentaRT_AudioUnit.mm, `wasBeatZero` starts NO); a successful prefill arms
a one-shot skip that only a transport reset uses up; a player's reset always fires and leaves
the skip armed (core/src/realtime_runner.cpp `inference_loop`, `prefill_state`, `prefill_silence`).
"""

from __future__ import annotations

import ctypes
import time

import numpy as np
import pytest

import mrt2_tiny as tiny
from conftest import wait_for
from mrtd.control.commands import Reset
from mrtd.control.transport import ArmTransportSkip, TransportReset
from mrtd.inputs.midi_clock import CONTINUE, SONG_POSITION, START, STOP, TICK
from mrtd.inputs.transport import MidiTransport
from style_fakes import builtin_control


def test_midi_start_and_song_position_0_are_arrivals_at_the_start_once_each():
    transport = MidiTransport()
    assert transport.feed([START]) is True  # the first arrival counts (`wasBeatZero` starts NO)
    assert transport.feed([START]) is False  # still at the start: no second reset
    assert transport.feed([TICK]) is False and transport.at_start  # the downbeat's tick is the start
    assert transport.feed([TICK]) is False and not transport.at_start  # the next one has left it
    assert transport.feed([STOP]) is False
    assert transport.feed([SONG_POSITION, 0, 0]) is True  # rewound to 0 while stopped: an arrival
    assert transport.feed([CONTINUE]) is False and transport.feed([START]) is False  # played from there: no second
    for _ in range(30):
        transport.feed([TICK])
    assert transport.feed([SONG_POSITION, 16, 0]) is False  # to bar 2: not the start
    assert transport.feed([TICK]) is False
    assert transport.feed([START]) is True  # from the beginning again
    transport.feed([STOP])
    assert transport.feed([TICK]) is False and transport.at_start  # ticks while stopped do not move it


def _resets(control, commands) -> list[bool]:
    """Apply each command in a frame of its own; whether that frame's conditioning resets."""
    seen = []
    for command in commands:
        control.submit(command)
        control.begin_frame(control.frame + 1)
        seen.append(control.frame_conditioning().reset)
    return seen


def test_a_prefill_skips_the_next_transport_reset_only_and_a_players_reset_always_fires():
    control = builtin_control()
    assert _resets(control, [TransportReset()]) == [True]  # nothing armed: it resets
    assert _resets(control, [ArmTransportSkip(), TransportReset(), TransportReset()]) == [False, False, True]
    # a player's reset between the prefill and the transport's start fires, and leaves the skip armed
    assert _resets(control, [ArmTransportSkip(), Reset(at_once=True), TransportReset(), TransportReset()]) == [
        False, True, False, True]


def _counter(engine) -> int:
    """The tiny model's step counter, as the engine's state holds it now."""
    return int(np.array(engine.state[tiny.STATE["counter"]])[0])


def test_midi_start_after_a_prefill_keeps_the_prefilled_context_then_resets_to_it(tmp_path, monkeypatch):
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.inputs.osc.server import OscConfig

    tiny.export_tiny_model(tmp_path, "mrt2_small")
    tiny.export_tiny_encoder(tmp_path)
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="mrt2", model="mrt2_small", output="null", osc=OscConfig(port=0), midi=False,
                                 cache_dir=str(tmp_path / "cache")))
    daemon.start()
    try:
        before = daemon.generator.engine
        daemon.prefill(None).result(60)  # silence: 549 steps, checkpointed (and the skip armed)
        engine = daemon.generator.engine
        assert engine is not before and int(np.array(engine._checkpoint[tiny.STATE["counter"]])[0]) == 549
        wait_for(lambda: not daemon.control.pending() and daemon.control.skip_next_transport_reset, 5, "the skip armed")
        start = _counter(engine)
        daemon.midi.on_midi([START])  # the DAW re-cues: skipped, the prefilled context plays on
        wait_for(lambda: not daemon.control.skip_next_transport_reset, 5, "the skip used up")
        wait_for(lambda: _counter(engine) > start + 3, 10, "the context going on")
        assert _counter(engine) > start
        for message in ([TICK], [TICK], [START]):  # played on, then from the start again: a reset
            daemon.midi.on_midi(message)
        going = _counter(engine)
        wait_for(lambda: _counter(engine) < going, 10, "a reset, to the prefilled checkpoint")
        assert 549 <= _counter(engine) < going
    finally:
        daemon.stop()


# -- JACK transport ----------------------------------------------------------------------------


class _Driver:
    """A JACK client that moves the server's transport, as a DAW would."""

    def __init__(self) -> None:
        from mrtd.jack import TransportReader

        self.reader = TransportReader("mrtd-test-transport")
        jack = self.reader.library
        jack.jack_transport_locate.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        jack.jack_transport_start.argtypes = [ctypes.c_void_p]
        jack.jack_transport_stop.argtypes = [ctypes.c_void_p]
        self.jack = jack

    def locate(self, frame: int) -> None:
        self.jack.jack_transport_locate(self.reader.client, frame)
        wait_for(lambda: abs(self.reader.frame() - frame) < 48000, 5, f"the transport at {frame}")

    def start(self) -> None:
        self.jack.jack_transport_start(self.reader.client)

    def stop(self) -> None:
        self.jack.jack_transport_stop(self.reader.client)


def test_jack_transport_arriving_at_frame_0_is_a_transport_start(jack_server):
    from mrtd.inputs.jack_transport import JackTransportWatch

    driver = _Driver()
    driver.stop()
    driver.locate(96000)
    starts: list[float] = []
    watch = JackTransportWatch(lambda: starts.append(time.monotonic()))
    watch.start()
    try:
        wait_for(lambda: watch.looks > 5, 5, "the watcher reading the transport")
        assert starts == []  # away from the start
        driver.locate(0)
        wait_for(lambda: len(starts) == 1, 5, "an arrival at frame 0")
        looked = watch.looks
        wait_for(lambda: watch.looks > looked + 5, 5, "more readings at frame 0")
        assert len(starts) == 1, "paused at 0: no second reset"
        driver.start()
        wait_for(lambda: driver.reader.frame() > 48000, 5, "rolling on")
        driver.locate(0)  # back to the start while rolling: it moves on from 0 before a poll
        wait_for(lambda: len(starts) == 2, 5, "the locate to 0 while rolling")
    finally:
        driver.stop()
        watch.stop()
        driver.reader.close()


def test_without_a_jack_server_the_watcher_stays_off():
    from mrtd.inputs.jack_transport import JackTransportWatch

    def no_server():
        raise OSError("cannot reach the JACK server (status 0x11)")

    watch = JackTransportWatch(lambda: pytest.fail("no start without a server"), reader=no_server)
    watch.start()
    watch.stop()
    assert not watch.connected and watch.starts == 0


class _Scripted:
    """A transport that reads `frames` one after another, then stays on the last."""

    sample_rate = 48000

    def __init__(self, frames: list[int]) -> None:
        self.frames = list(frames)

    def frame(self) -> int:
        return self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]

    def close(self) -> None:
        pass


@pytest.mark.parametrize("frames, starts", [
    ([96000, 96480, 200, 680, 1160], 1),  # located to 0 while rolling, read 200 frames on: a start
    ([96000, 96480, 48000, 48480], 0),  # located to 1 s: a jump back, not to the start
    ([0, 0, 480, 960, 0, 0], 2),  # at 0 when first read (the first arrival counts), then back to it
])
def test_the_watcher_hears_a_locate_to_0_it_did_not_see_at_0(frames, starts):
    from mrtd.inputs.jack_transport import JackTransportWatch

    seen: list[int] = []
    watch = JackTransportWatch(lambda: seen.append(1), reader=lambda: _Scripted(frames))  # a stand-in for TransportReader
    watch.start()
    try:
        wait_for(lambda: watch.looks > len(frames) + 2, 5, "every reading")
    finally:
        watch.stop()
    assert len(seen) == starts
