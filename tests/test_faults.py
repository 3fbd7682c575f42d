"""Engine faults: a failed or NaN frame is concealed without a click, and the music recovers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import CaptureOutput, wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.inputs.osc.server import OscConfig
from osc_probe import OscProbe, bundle, message
from mrtd.runtime.generator import Generator
from style_fakes import builtin_control


class FlakyEngine(RecordingEngine):
    """A tone that fails on chosen frames: by raising, by NaN, or for ever from `broken_from`."""

    name = "flaky"

    def __init__(self, raise_on=(), nan_on=(), broken_from: int | None = None) -> None:
        super().__init__(freq=330.0, amp=0.5)
        self.raise_on, self.nan_on, self.broken_from = set(raise_on), set(nan_on), broken_from
        self.resets = 0

    def _step(self, conditioning):
        frame = super()._step(conditioning)
        k = len(self.seen) - 1
        if k in self.raise_on or (self.broken_from is not None and k >= self.broken_from):
            raise RuntimeError(f"simulated failure at frame {k}")
        if k in self.nan_on:
            frame[100:200] = np.nan
        return frame

    def reset(self) -> None:
        super().reset()
        self.resets += 1


def test_failed_and_nan_frames_are_concealed_without_a_click():
    engine = FlakyEngine(raise_on={30, 31}, nan_on={60})
    engine.warm_up()
    engine.resets = 0
    generator = Generator(engine, builtin_control())
    audio = np.concatenate([generator.next_frame().copy() for _ in range(100)])[:, 0]
    assert np.isfinite(audio).all()
    assert generator.faults == 3 and engine.resets == 3
    assert np.abs(np.diff(audio)).max() <= engine.steady_jump() * 1.05, "concealment never clicks"
    level = lambda k: np.abs(audio[k * 1920 : (k + 1) * 1920]).max()  # noqa: E731
    assert level(29) > 0.45 and level(31) == 0.0, "the fault fades out and rests"
    assert level(33) > 0.45 and level(62) > 0.45, "the music is back one frame after each fault"
    assert "NaN" in generator.last_fault


def test_a_broken_engine_falls_back_to_synth_within_a_second(tmp_path):
    engine = FlakyEngine(broken_from=40)
    sink = CaptureOutput(wanted_samples=1 << 62)
    daemon = Daemon(DaemonConfig(osc=None, midi=False, cache_dir=str(tmp_path), fault_limit=3), engine=engine, output=sink)
    daemon.start()
    try:
        wait_for(lambda: daemon.generator.faults > 0, 10, "the engine to break")
        first_fault_frame = daemon.generator.frames
        wait_for(lambda: daemon.generator.engine.name == "synth", 5, "the fallback engine")
        switched_at = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > switched_at + 25, 5, "a second of the fallback")
        status = daemon.status()
    finally:
        daemon.stop()
    assert switched_at - first_fault_frame <= 25, "recovered within 1 s"
    assert status["engine"].startswith("synth") and status["engine_faults"] >= 3
    assert "simulated failure" in status["last_fault"]
    heard = sink.audio()[:, 0]
    assert np.abs(heard[-24000:]).max() > 0.01, "the fallback is playing"
    assert status["underruns"] == 0


def test_a_reset_ducks_and_fades_in_without_a_click():
    """/mrt/reset: within one frame the old context ducks out without a step and the new one fades in."""
    engine = FlakyEngine()
    engine.warm_up()
    engine.resets = 0
    control = builtin_control()
    generator = Generator(engine, control)
    frames = []
    for k in range(60):
        if k == 31:  # 409.2 cycles of the 330 Hz tone in: a restarted sine would jump
            control.request_reset()
        frames.append(generator.next_frame().copy())
    audio = np.concatenate(frames)[:, 0]
    assert engine.resets == 1 and engine.seen[31].reset, "the engine hears the reset in that frame"
    assert np.abs(np.diff(audio)).max() <= engine.steady_jump() * 1.05, "a reset never clicks"
    assert np.abs(frames[32][:, 0]).max() > 0.45, "the new context plays at full level from the next frame"


class HeardByPosition(CaptureOutput):
    """A paced sink that keeps what the listener hears, placed by the ring position it came from."""

    def __init__(self) -> None:
        super().__init__(wanted_samples=1 << 62)
        self.placed: list[tuple[int, np.ndarray]] = []

    def _consume(self, block: np.ndarray) -> None:
        if self.playout.started:
            self.placed.append((self.playout.clock[0], block[:, 0].copy()))

    def by_position(self) -> np.ndarray:
        """Sample i: what was heard from ring sample i (blocks read in order, no underrun)."""
        last, samples = self.placed[-1]
        heard = np.zeros(last + len(samples), np.float32)
        for position, samples in self.placed:
            heard[position : position + len(samples)] = samples
        return heard


@pytest.mark.parametrize("timetagged", [False, True])
def test_a_reset_asked_for_now_is_heard_at_once_and_a_timetagged_one_on_its_frame(tmp_path, timetagged):
    """A plain /mrt/reset ducks what is already buffered at once, silent up to the reset frame,
    which fades in: the performer hears the reset now, not the margin later. A timetagged one
    lands on its frame, and the frames before it play as made. With a margin of three frames
    (120 ms), so that whole frames are buffered when the reset comes."""
    engine = FlakyEngine()
    sink = HeardByPosition()
    daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), midi=False, cache_dir=str(tmp_path), latency=120), engine=engine,
                    output=sink)
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        wait_for(lambda: daemon.generator.frames > 20, 5, "the music to start")
        if timetagged:
            probe.send_raw(bundle(time.time() + 0.3, message("/mrt/reset")))
        else:
            probe.send("/mrt/reset")
        wait_for(lambda: any(c.reset for c in engine.seen), 5, "the reset to reach the engine")
        k = next(i for i, c in enumerate(engine.seen) if c.reset)
        wait_for(lambda: sink.placed and sink.placed[-1][0] > daemon.playout.frame_start(k + 3), 5, "the reset to be heard")
        underruns = daemon.status()["underruns"]
    finally:
        probe.close()
        daemon.stop()
    heard = sink.by_position()
    level = lambda j: np.abs(heard[j * 1920 : (j + 1) * 1920]).max()  # noqa: E731
    assert underruns == 0
    assert np.abs(np.diff(heard[1920 * (k - 6) :])).max() <= engine.steady_jump() * 1.05, "a reset never clicks"
    assert level(k + 1) > 0.45, "the new context plays at full level from the next frame"
    if timetagged:
        assert min(level(k - 2), level(k - 1)) > 0.45, "the frames before a timetagged reset play"
    else:
        # Frame k is made when about 3.4 frames are ahead of the listener (the margin, the
        # playout's block and reserve, the step): the callback is inside frame k - 4 or k - 3,
        # and frame k - 1 is buffered whole.
        assert level(k - 1) == 0.0, "the buffered frames made before the reset are not heard"
