"""The generation thread and output controls, heard through a real-time paced sink."""

import numpy as np

from conftest import CaptureOutput
from engines_for_tests import ToneEngine
from mrtd.audio.playout import Playout
from mrtd.control.commands import SetParam
from mrtd.control.state import ControlState
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from mrtd.lifecycle import freeze_heap, thaw_heap
from mrtd.runtime.generator import Generator
from mrtd.runtime.runner import Runner, ring_for
from style_fakes import builtin_control


def _play(engine, seconds: float, margin_s: float = 0.012, control: ControlState | None = None):
    control = control or builtin_control()
    playout = Playout(ring_for(margin_s))
    sink = CaptureOutput(int(seconds * SAMPLE_RATE))
    runner = Runner(Generator(engine, control), playout, margin_s, output_time=sink.time, device_latency=lambda: sink.latency)
    # As the daemon does once started (lifecycle.freeze_heap): a full collection over the heap a
    # thousand tests have grown in this process holds the GIL for longer than the lead (seen in
    # CI: one underrun with 52 ms ahead, in this 2 s test).
    freeze_heap()
    runner.start()
    sink.start(playout)
    try:
        assert sink.enough.wait(seconds * 3 + 5), "the sink stalled"
    finally:
        sink.stop()
        runner.stop()
        thaw_heap()
    return sink.audio()[:, 0], playout


def test_a_fast_engine_plays_without_underruns():
    engine = ToneEngine()
    heard, playout = _play(engine, 2.0)
    assert playout.underruns == 0
    assert np.abs(np.diff(heard)).max() <= engine.steady_jump() * 1.05


def test_a_slow_engine_underruns_are_counted_and_never_click():
    engine = ToneEngine(step_seconds=0.06)  # 60 ms per 40 ms frame: 1.5x slower than real time
    heard, playout = _play(engine, 3.0)
    assert playout.underruns >= 3
    assert np.abs(np.diff(heard)).max() <= engine.steady_jump() * 1.05, "concealment must not click"
    assert np.abs(heard).max() > 0.45, "the frames that did arrive were played"


def test_volume_changes_are_ramped_and_mute_is_silent():
    engine = ToneEngine(amp=0.5)
    control = builtin_control()
    generator = Generator(engine, control)
    frames = [generator.next_frame().copy() for _ in range(5)]
    control.submit(SetParam("volume", -6.0))
    frames += [generator.next_frame().copy() for _ in range(3)]
    control.submit(SetParam("mute", True))
    frames += [generator.next_frame().copy() for _ in range(3)]
    audio = np.concatenate(frames)[:, 0]
    full = np.abs(audio[3 * FRAME_SAMPLES : 5 * FRAME_SAMPLES]).max()
    half = np.abs(audio[6 * FRAME_SAMPLES : 8 * FRAME_SAMPLES]).max()
    assert abs(half / full - 10 ** (-6 / 20)) < 0.01
    assert np.abs(audio[9 * FRAME_SAMPLES :]).max() == 0.0
    assert np.abs(np.diff(audio)).max() <= engine.steady_jump() * 1.05


def test_bypass_fades_out_then_rests_the_engine():
    engine = ToneEngine()
    control = builtin_control()
    generator = Generator(engine, control)
    for _ in range(3):
        generator.next_frame()
    control.submit(SetParam("bypass", True))
    fade = generator.next_frame().copy()
    steps_before = len(engine.seen)
    for _ in range(5):
        assert not generator.next_frame().any()
    assert len(engine.seen) == steps_before, "a bypassed engine is not stepped"
    assert abs(fade[-1, 0]) < 1e-3 < np.abs(fade[:FRAME_SAMPLES // 2, 0]).max()
