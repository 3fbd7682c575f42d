"""MIDI clock in: 24 ppqn with start, stop, continue and song position; smoothing; a real JACK port."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest

from conftest import wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.control.commands import AlignBeat, SetParam
from mrtd.inputs.midi_clock import CONTINUE, SONG_POSITION, START, STOP, TICK, MidiClock

SECONDS_PER_TICK_120 = 60.0 / 120.0 / 24  # 0.020833 s


def tempos(commands) -> list[float]:
    return [command.value for command in commands if isinstance(command, SetParam) and command.name == "tempo"]


def feed_ticks(clock: MidiClock, count: int, start: float, period: float, jitter: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    commands = []
    for n in range(count):
        at = start + n * period + (rng.uniform(0.0, jitter) if jitter else 0.0)
        commands += clock.feed([TICK], at, at)
    return commands


def test_jittery_ticks_give_the_tempo_within_half_a_bpm_after_two_beats():
    clock = MidiClock()
    clock.feed([START], 0.0, 0.0)
    # Receipt late by up to 5 ms per tick (a USB interface, a JACK period): the fit averages it out.
    commands = feed_ticks(clock, 48, 0.001, SECONDS_PER_TICK_120, jitter=0.005)
    assert abs(tempos(commands)[-1] - 120.0) < 0.5
    # Jitter alone does not keep re-sending the tempo: few updates, none after it settles.
    more = feed_ticks(clock, 96, 0.001 + 48 * SECONDS_PER_TICK_120, SECONDS_PER_TICK_120, jitter=0.005, seed=1)
    assert len(tempos(more)) <= 3 and abs(clock.bpm - 120.0) < 0.3


def test_start_resets_the_beat_and_each_beat_pulls_the_phase():
    clock = MidiClock()
    commands = clock.feed([START], 10.0, 1000.0)
    assert commands == [AlignBeat(0.0, 1000.0, None, jump=True)]
    commands = feed_ticks(clock, 49, 10.0, SECONDS_PER_TICK_120)
    aligns = [command for command in commands if isinstance(command, AlignBeat)]
    assert [a.beat for a in aligns] == [0.0, 1.0, 2.0]  # ticks 0, 24 and 48 start beats
    assert aligns[1].at == pytest.approx(10.0 + 24 * SECONDS_PER_TICK_120)
    assert not any(a.jump for a in aligns)


def test_stop_pauses_following_and_continue_resumes_from_the_song_position():
    clock = MidiClock()
    clock.feed([START], 0.0)
    feed_ticks(clock, 48, 0.0, SECONDS_PER_TICK_120)
    assert clock.feed([STOP], 1.0) == []
    # While stopped, ticks (a sequencer keeps its clock running) change nothing.
    assert feed_ticks(clock, 48, 1.1, 60.0 / 90.0 / 24) == []
    clock.feed([SONG_POSITION, 32, 0], 3.0)  # sixteenth 32: bar 3, beat 8
    clock.feed([CONTINUE], 3.1)
    commands = feed_ticks(clock, 48, 3.2, 60.0 / 100.0 / 24)  # the sender now plays at 100 BPM
    aligns = [command.beat for command in commands if isinstance(command, AlignBeat)]
    assert aligns == [8.0, 9.0]
    assert abs(tempos(commands)[-1] - 100.0) < 0.1  # the pause was not taken for a tick interval


def test_a_dropout_restarts_the_measurement_instead_of_slowing_the_tempo():
    clock = MidiClock()
    clock.feed([START], 0.0)
    feed_ticks(clock, 48, 0.0, SECONDS_PER_TICK_120)
    feed_ticks(clock, 48, 48 * SECONDS_PER_TICK_120 + 0.5, SECONDS_PER_TICK_120)  # half a second lost
    assert abs(clock.bpm - 120.0) < 0.1


# -- a real virtual port ------------------------------------------------------------------------------


@pytest.fixture
def short_jack_periods(jack_server):
    """JACK hands MIDI over once per period and rtmidi stamps it on arrival, so receipt times are
    quantized to the period: 21 ms with the fixture's 1024 frames, one whole tick at 120 BPM.
    A MIDI rig runs JACK with short periods; this test does too (256 frames, 5.3 ms: shorter ones
    make a loaded 2-core machine miss JACK cycles), and restores the server after."""
    before = subprocess.run(["jack_bufsize"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["jack_bufsize", "256"], check=True, capture_output=True)
    yield
    if before.isdigit():
        subprocess.run(["jack_bufsize", before], check=True, capture_output=True)


def test_midi_clock_from_a_virtual_port_sets_the_bpm_within_half_a_bpm_after_two_beats(tmp_path, short_jack_periods):
    import rtmidi

    engine = RecordingEngine()
    daemon = Daemon(
        DaemonConfig(output="null", osc=None, midi=True, tempo_source="midi",
                     scene_dir=str(tmp_path), record_dir=str(tmp_path), cache_dir=str(tmp_path / "cache")),
        engine=engine,
    )
    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="test-clock")
    before = set(sender.get_ports())
    daemon.start()
    try:
        daemon.control.submit(SetParam("tempo", 90.0))
        wait_for(lambda: engine.seen and engine.seen[-1].bpm == 90.0, 5, "the starting tempo")

        def mrtd_port() -> str | None:
            return next((p for p in sender.get_ports() if p not in before and p.startswith("mrtd") and p.endswith(":in")), None)

        wait_for(lambda: mrtd_port() is not None, 5, "mrtd's virtual MIDI port")
        sender.open_port(sender.get_ports().index(mrtd_port()))
        sender.send_message([START])
        wait_for(lambda: daemon.midi_clock.running, 5, "the start message")
        # 48 ticks paced by absolute deadlines, so sleep overruns do not add up into a slower tempo.
        origin = time.monotonic() + 0.01
        for n in range(48):
            delay = origin + n * SECONDS_PER_TICK_120 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sender.send_message([TICK])
        try:
            wait_for(lambda: daemon.midi_clock.ticks >= 48, 5, "all 48 ticks")
        except AssertionError:
            raise AssertionError(f"{daemon.midi_clock.ticks} of 48 ticks arrived in 5 s") from None
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames >= frames + 2, 5, "the tempo to reach a frame")
        heard = engine.seen[-1].bpm
        assert abs(heard - 120.0) < 0.5, f"{heard} BPM after two beats of 120 BPM clock"
        assert daemon.status()["bpm"] == heard and daemon.status()["tempo_source"] == "midi"
        # Start put the beat at 0 when it arrived, and the beats since have followed the ticks.
        assert 1.5 < engine.seen[-1].beat < 3.0
    finally:
        sender.close_port()
        sender.delete()
        daemon.stop()
