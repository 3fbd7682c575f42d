"""Choosing the mrt2 backend: `--backend mlx|jax|auto` (and `backend:` in the config), auto's
measured choice, and what status, the log and the doctor say of it. The backends here are
stand-ins whose steps take what an injected clock says (tests/test_mrt2_jax.py runs the real
JAX engine against the official system)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from mrtd.app.cli import _parser
from mrtd.app.config import ConfigError, load_settings
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.app.doctor import ModelCheck, auto_backends, format_report, next_commands
from mrtd.conditioning import Conditioning
from mrtd.engines import _mrt2_available, backends
from mrtd.engines.base import BaseEngine
from mrtd.engines.mrt2 import ModelError
from mrtd.frame import CHANNELS, FRAME_SAMPLES


class Timed(BaseEngine):
    """A model engine on `backend` whose steps take `step_ms` (cycled) on its own clock."""

    name = "mrt2"
    warmup_steps = 5

    def __init__(self, backend: str, *step_ms: float) -> None:
        super().__init__()
        self.backend = backend
        self.model = "mrt2_small"
        self._durations = [ms / 1000.0 for ms in step_ms]
        self._now = 0.0
        self.clock = lambda: self._now
        self.steps = 0
        self.warm_ups = 0
        self.closed = False

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        self._now += self._durations[self.steps % len(self._durations)]
        self.steps += 1
        return np.zeros((FRAME_SAMPLES, CHANNELS), dtype=np.float32)

    def warm_up(self, steps: int | None = None) -> None:
        self.warm_ups += 1
        super().warm_up(steps)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def hardware(self) -> str:
        return f"test device of {self.backend}"

    def describe(self) -> str:
        return f"mrt2 test on {self.backend}"


@pytest.fixture
def both(monkeypatch):
    """Both backends installed; each builds the stand-in the test puts in `made`."""
    made: dict[str, BaseEngine | Exception] = {}

    def factory(backend: str):
        def create(**_options) -> BaseEngine:
            engine = made[backend]
            if isinstance(engine, Exception):
                raise engine
            return engine
        return create

    monkeypatch.setattr(backends, "ready", lambda backend, model, home: ["mlx", "jax"] if backend == "auto" else [backend])
    monkeypatch.setattr("mrtd.engines.mrt2.create", factory("mlx"))
    monkeypatch.setattr("mrtd.engines.mrt2_jax.create", factory("jax"))
    return made


def test_auto_on_a_cpu_keeps_the_faster_backend_and_says_neither_is_real_time(both):
    both["mlx"], both["jax"] = Timed("mlx", 2800.0), Timed("jax", 250.0)
    engine = backends.create("auto")
    assert engine is both["jax"] and both["mlx"].closed and not both["jax"].closed
    assert engine.verdict is not None  # measured once: the daemon does not warm it up again
    assert engine.backend_note == ("jax: the faster backend, neither is real time here "
                                   "(median warm-up step: mlx 2800.0 ms, jax 250.0 ms)")


def test_auto_prefers_a_real_time_backend_to_a_faster_median_that_overruns(both):
    both["mlx"] = Timed("mlx", 30.0)  # every step in the frame
    both["jax"] = Timed("jax", 20.0, 20.0, 20.0, 90.0)  # faster median, p99 over the 40 ms frame
    engine = backends.create("auto")
    assert engine is both["mlx"] and both["jax"].closed
    assert engine.backend_note.startswith("mlx: the fastest real-time backend here")


def test_auto_between_two_real_time_backends_takes_the_lower_median(both):
    both["mlx"], both["jax"] = Timed("mlx", 12.0), Timed("jax", 9.0)
    assert backends.create("auto") is both["jax"] and both["mlx"].closed


def test_auto_plays_the_backend_that_loads_when_the_other_does_not(both):
    both["mlx"], both["jax"] = Timed("mlx", 2800.0), ModelError("mrt2 model 'mrt2_small' (jax): missing checkpoint X")
    engine = backends.create("auto")
    assert engine is both["mlx"]
    assert "jax did not load: mrt2 model 'mrt2_small' (jax): missing checkpoint X" in engine.backend_note
    both["mlx"] = ModelError("mlx broken")
    with pytest.raises(ModelError, match="mlx did not load: mlx broken; jax did not load"):
        backends.create("auto")


def test_an_asked_for_backend_is_built_unmeasured_and_says_so(both, caplog):
    both["jax"] = Timed("jax", 250.0)
    caplog.set_level(logging.INFO, logger="mrtd")
    engine = backends.create("jax")
    assert engine is both["jax"] and engine.verdict is None  # the daemon's warm-up measures it
    assert engine.backend_note == "jax: asked for (backend jax)"
    assert any(r.getMessage() == "mrt2 backend jax on test device of jax: asked for (backend jax)" for r in caplog.records)
    with pytest.raises(ValueError, match="unknown backend 'cuda'; choose one of auto, mlx, jax"):
        backends.create("cuda")


def test_only_one_backend_installed_is_played_without_measuring_twice(monkeypatch):
    only = Timed("mlx", 2800.0)
    monkeypatch.setattr(backends, "ready", lambda backend, model, home: ["mlx"])
    monkeypatch.setattr("mrtd.engines.mrt2.create", lambda **_options: only)
    engine = backends.create("auto")
    assert engine is only and only.warm_ups == 0
    assert engine.backend_note == "mlx: the only backend installed here for this model (mlx)"


def test_the_daemon_plays_auto_s_choice_warmed_once_and_status_says_which_and_why(both, tmp_path, caplog):
    both["mlx"], both["jax"] = Timed("mlx", 2800.0), Timed("jax", 250.0)
    caplog.set_level(logging.INFO, logger="mrtd")
    daemon = Daemon(DaemonConfig(engine="mrt2", backend="auto", allow_slow=True, output="null", osc=None,
                                 midi=False, cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path / "scenes"),
                                 record_dir=str(tmp_path / "recordings")))
    daemon.start()
    try:
        status = daemon.status()
    finally:
        daemon.stop()
    assert status["backend"] == "jax" and status["hardware"] == "test device of jax"
    assert "neither is real time here (median warm-up step: mlx 2800.0 ms, jax 250.0 ms)" in status["backend_note"]
    assert both["jax"].warm_ups == 1 and both["mlx"].warm_ups == 1
    assert any(r.getMessage().startswith("mrt2 backend jax on test device of jax: the faster backend")
               for r in caplog.records)


def test_backend_comes_from_the_flag_or_the_config_and_a_wrong_one_is_refused(tmp_path):
    assert load_settings(None, {}).backend == "auto"
    config = tmp_path / "mrtd.yaml"
    config.write_text("backend: jax\n")
    assert load_settings(config, {}).backend == "jax"
    args = _parser().parse_args(["run", "--backend", "mlx"])
    assert load_settings(config, {"backend": args.backend}).backend == "mlx"  # the flag wins over the file
    assert _parser().parse_args(["render", "scene.yaml", "-o", "x.wav"]).backend == "auto"
    assert _parser().parse_args(["render", "scene.yaml", "-o", "x.wav", "--backend", "jax"]).backend == "jax"
    config.write_text("backend: cuda\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(config, {})
    assert any("backend" in error for error in refused.value.errors)
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", "--backend", "cuda"])


def test_engine_auto_finds_a_model_on_either_backend(tmp_path):
    assert not _mrt2_available(backend="jax", magenta_home=tmp_path)
    checkpoint = tmp_path / "magenta-rt-v2" / "checkpoints" / "mrt2_small.safetensors"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")  # only its presence is asked: nothing is loaded to decide
    assert _mrt2_available(backend="jax", magenta_home=tmp_path)
    assert _mrt2_available(backend="auto", magenta_home=tmp_path)
    assert not _mrt2_available(backend="mlx", magenta_home=tmp_path)


def _check(backend: str, p50: float, p99: float, verdict: str = "offline-only") -> ModelCheck:
    return ModelCheck("mrt2_small", "/x", "random-weights", 430.0, verdict=verdict, steps=5, p50_ms=p50, p99_ms=p99,
                      device=f"{backend.upper()} cpu (CPU x86_64, 2 cores)", backend=backend)


def test_the_doctor_says_which_backend_auto_plays_and_commands_it():
    checks = [_check("mlx", 2800.0, 3100.0), _check("jax", 250.0, 300.0)]
    auto = auto_backends(checks)
    assert auto == {"mrt2_small": {"backend": "jax", "why": "the faster backend, neither is real time here "
                                   "(median warm-up step: mlx 2800.0 ms, jax 250.0 ms)"}}
    commands = next_commands(checks, {"musiccoca": {"present": True}}, {"error": "", "backend": "cpu", "nvidia": {}},
                             {"installed": True, "error": "", "device": "JAX cpu (CPU x86_64, 2 cores)"})
    assert commands["render"][0].startswith("mrtd render scenes/live-coding.yaml -o out.wav --engine mrt2 "
                                            "--model mrt2_small --backend jax --seconds 1")
    live = [_check("mlx", 30.0, 35.0, "live"), _check("jax", 20.0, 90.0, "offline-only")]
    commands = next_commands(live, {"musiccoca": {"present": True}}, {"error": "", "backend": "cpu", "nvidia": {}})
    assert commands["play"] == ["mrtd run --engine mrt2 --model mrt2_small --backend mlx"]


def test_the_doctor_report_names_the_jax_device_and_each_backend_s_model(tmp_path: Path):
    from mrtd.app.doctor import DoctorReport

    checks = [_check("mlx", 2800.0, 3100.0), _check("jax", 250.0, 300.0)]
    report = DoctorReport(
        platform={"system": "Linux", "release": "6", "machine": "x86_64", "python": "3.11"},
        mlx={"error": "", "version": "0.32", "backend": "cpu", "device": "MLX cpu", "nvidia": {}},
        audio={"error": "no PortAudio"}, midi={"api": "", "note": "off"}, web={"note": "ok"},
        magenta_home=str(tmp_path),
        resources={"musiccoca": {"present": True, "folder": "f", "missing": []}, "spectrostream": {"present": True, "file": "e"}},
        models=checks, next={"install": [], "play": [], "render": []},
        jax={"installed": True, "version": "0.10.2", "magenta_rt": "2.0.3", "device": "JAX cpu (CPU x86_64, 2 cores)",
             "error": ""},
        auto_backend=auto_backends(checks))
    text = format_report(report)
    assert "JAX        0.10.2, magenta-rt 2.0.3: JAX cpu (CPU x86_64, 2 cores)" in text
    assert "model      mrt2_small (random weights" in text and "model      mrt2_small on jax (random weights" in text
    assert "backend    auto plays mrt2_small on jax here: the faster backend, neither is real time here" in text
    assert "pip install 'jax[cuda12]'" not in text  # no NVIDIA GPU here: nothing to install for it
