"""A model that cannot keep up: measured on warm-up, not picked by auto, refused live unless allowed,
lateness reported while playing, and no watchdog restart loop. Slow machines are played by injected
clocks (an engine whose every step advances its clock by seconds), never by sleeping."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import mrtd.engines as engines
from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.core.engine_choice import TooSlowError
from mrtd.app.logs import stop_logging
from mrtd.app.systemd import Progress
from mrtd.engines.base import BaseEngine
from mrtd.frame import CHANNELS, FRAME_SAMPLES
from mrtd.runtime.lateness import LatenessMonitor

CPU_STEP_S = 2.2  # what a 1-layer mrt2_small export steps in on the 2-core CI CPU


class ClockedEngine(BaseEngine):
    """An `mrt2` stand-in whose clock advances `step_s` per step: as slow as we say, at full speed."""

    name = "mrt2"

    def __init__(self, step_s: float) -> None:
        super().__init__()
        self.now = 0.0
        self.clock = lambda: self.now
        self.step_s = step_s
        self.closed = False
        self._frame = np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)

    def _step(self, conditioning):
        self.now += self.step_s
        return self._frame

    def reset(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def describe(self) -> str:
        return "mrt2 clocked_model"


@pytest.fixture
def installed(monkeypatch):
    """Pretend the mrt2 model is installed; `made` lists the engines the daemon built."""
    made: list[ClockedEngine] = []
    step = {"s": CPU_STEP_S}

    def factory(**_options):
        made.append(ClockedEngine(step["s"]))
        return made[-1]

    monkeypatch.setitem(engines._FACTORIES, "mrt2", factory)
    monkeypatch.setattr(engines, "_mrt2_available", lambda **_options: True)
    return made, step


def _daemon(tmp_path, **config) -> Daemon:
    config.setdefault("osc", None)
    return Daemon(DaemonConfig(output="null", midi=False, cache_dir=str(tmp_path / "cache"),
                               record_dir=str(tmp_path / "rec"), **config))


def test_warm_up_is_measured_and_judged():
    engine = ClockedEngine(CPU_STEP_S)
    engine.warm_up(5)
    verdict = engine.verdict
    assert verdict.steps == 4, "the first (compiling) step is left out"
    assert verdict.p99_ms == pytest.approx(2200.0) and not verdict.keeps_up
    assert verdict.realtime_factor == pytest.approx(40 / 2200)
    fast = ClockedEngine(0.010)
    fast.warm_up(5)
    assert fast.verdict.keeps_up and fast.verdict.p50_ms == pytest.approx(10.0)


def test_auto_plays_the_synth_and_says_why(tmp_path, installed, caplog):
    made, _ = installed
    daemon = _daemon(tmp_path, engine="auto")
    with caplog.at_level(logging.INFO, logger="mrtd"):
        daemon.start()
    try:
        status = daemon.status()
        assert status["engine"].startswith("synth")
        note = status["engine_note"]
        for fragment in ("mrt2 clocked_model cannot keep up", "synth plays instead", "p99 step 2200.0 ms", "0.018x real time", "CPU",
                         "Apple Silicon or an NVIDIA GPU", "mrtd render"):
            assert fragment in note, note
        assert made[0].closed
        startup = [r.getMessage() for r in caplog.records if r.getMessage().startswith("engine: synth")]
        assert startup and "0.00 ms" not in startup[0] and "warm: 3 steps" in startup[0], startup
    finally:
        daemon.stop()


def test_auto_plays_a_model_that_keeps_up(tmp_path, installed):
    made, step = installed
    step["s"] = 0.020
    daemon = _daemon(tmp_path, engine="auto")
    daemon.start()
    try:
        assert daemon.status()["engine"] == "mrt2 clocked_model" and daemon.status()["engine_note"] == ""
    finally:
        daemon.stop()


def test_explicit_mrt2_refuses_live_playback_and_points_to_render(tmp_path, installed):
    daemon = _daemon(tmp_path, engine="mrt2")
    with pytest.raises(TooSlowError, match=r"refusing live playback.*2200\.0 ms.*mrtd render .*--engine mrt2.*--allow-slow"):
        daemon.start()
    daemon.stop()


def test_the_cli_refuses_with_that_message(tmp_path, installed, capsys, monkeypatch):
    from mrtd.app.cli import EXIT_TOO_SLOW, main

    monkeypatch.chdir(tmp_path)
    code = main(["run", "--engine", "mrt2", "--output", "null", "--no-osc", "--no-midi", "--seconds", "0"])
    assert code == EXIT_TOO_SLOW
    for unit in ("mrtd.service", "mrtd-user.service"):  # systemd must not warm it up again and again
        text = (Path(__file__).parent.parent / "systemd" / unit).read_text()
        assert f"RestartPreventExitStatus={code}" in text.splitlines(), unit
    stop_logging()  # what exit does (atexit): the queued log lines are written out
    assert "refusing live playback" in capsys.readouterr().err


def test_allow_slow_plays_it_and_status_says_it_is_behind(tmp_path, installed):
    made, _ = installed
    daemon = _daemon(tmp_path, engine="mrt2", allow_slow=True)
    daemon.start()
    try:
        assert daemon.status()["engine"] == "mrt2 clocked_model"
        assert "--allow-slow" in daemon.status()["engine_note"]
        wait_for(lambda: daemon.status()["late_steps"] >= 3, 10.0, "late steps")
        assert "behind real time" in daemon.status()["behind"]
    finally:
        daemon.stop()


def test_lateness_is_logged_when_sustained_and_rate_limited(caplog):
    now = [0.0]
    monitor = LatenessMonitor(clock=lambda: now[0], log_every_s=30.0, window=25)
    with caplog.at_level(logging.WARNING, logger="mrtd"):
        for _ in range(25):
            monitor.record(0.045 if _ % 5 == 0 else 0.030)  # an occasional late step: not sustained
        assert not monitor.sustained and monitor.logged == 0 and monitor.late_frames == 5
        for _ in range(100):  # a second of mostly late steps, then more, all within 30 s
            now[0] += 0.05
            monitor.record(0.050)
        assert monitor.sustained and monitor.logged == 1
        now[0] += 30.0
        monitor.record(0.050)
        assert monitor.logged == 2
    assert sum("behind real time" in r.getMessage() for r in caplog.records) == 2
    for _ in range(25):
        monitor.record(0.020)
    assert not monitor.sustained and monitor.describe() == ""


def test_the_watchdog_does_not_restart_a_daemon_that_is_only_slow():
    frames, underruns, slow = [0], [0], [0.0]
    now = [0.0]
    healthy = Progress(lambda: frames[0], lambda: underruns[0], lambda: slow[0], clock=lambda: now[0])
    frames[0], underruns[0] = 1, 1
    assert not healthy(), "keeping up should not underrun"
    slow[0] = CPU_STEP_S
    for _ in range(6):  # 5 s checks, a frame every 2.2 s, an underrun with each
        now[0] += 5.0
        frames[0] += 2
        underruns[0] += 2
        assert healthy(), "too slow is not wedged: a restart would not help"
    now[0] += 5.0
    assert healthy(), "no frame in 5 s is within three 2.2 s steps"
    now[0] += 5.0
    assert not healthy(), "no frame for 10 s: wedged, even for a slow engine"


def test_a_model_too_slow_for_live_play_is_not_swapped_in_and_the_sender_hears_why(tmp_path, installed, monkeypatch):
    from mrtd.engines import mrt2
    from mrtd.inputs.osc.server import OscConfig
    from osc_probe import OscProbe

    made, _ = installed
    monkeypatch.setattr(mrt2, "assets_present", lambda name, *rest: name == "mrt2_slow")
    daemon = _daemon(tmp_path, engine="synth", osc=OscConfig(port=0))
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        assert probe.request("/mrt/model", "/mrt/loading", "mrt2_slow") == ["mrt2_slow"]
        about, reason = probe.wait_for("/mrt/error", timeout=20)
        assert about == "/mrt/model" and "cannot keep up" in reason and "--allow-slow" in reason, reason
        assert made[-1].closed, "the refused model is closed"
        assert daemon.generator.engine.name == "synth" and daemon.status()["engine_note"] == ""
    finally:
        probe.close()
        daemon.stop()


def test_with_allow_slow_a_slow_model_is_swapped_in_and_status_says_so(tmp_path, installed):
    made, _ = installed
    daemon = _daemon(tmp_path, engine="synth", allow_slow=True)
    daemon.start()
    try:
        assert daemon.swap_engine("mrt2", "mrt2_slow").result(timeout=20) is made[-1]
        assert daemon.generator.engine is made[-1] and not made[-1].closed
        assert "--allow-slow" in daemon.status()["engine_note"]
    finally:
        daemon.stop()
