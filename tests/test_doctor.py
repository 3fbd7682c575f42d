"""`mrtd doctor`, run as a user runs it (the console script, a MAGENTA_HOME laid out as the
official tool lays it out), and the model's source and verdict in /status, the start log and the
web page (a real Chromium)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import running_daemon, wait_for
from mrt2_tiny import export_tiny_model
from mrtd.core.engine_choice import LIVE, LIVE_AT, OFFLINE_ONLY, live_verdict, model_line, too_slow_message
from mrtd.engines.mrt2 import SOURCE_FILE, Mrt2Engine, mlx_core
from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.engines.realtime import Verdict
from mrtd.inputs.web.config import WebConfig
from test_mrt2_jax import COMPILE_CACHE, jax_home  # noqa: F401  (the fixture: a random-weights JAX checkpoint, cached)
from test_mrt2_official import official_home  # noqa: F401  (the fixture: the official export, made once and cached)
from web_rig import chromium, open_page

REPO = Path(__file__).resolve().parent.parent
OFFICIAL = "mrt2_small"


def doctor(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`mrtd doctor` with MAGENTA_HOME=home, as a subprocess (this tree's mrtd first on the path)."""
    env = dict(os.environ, MAGENTA_HOME=str(home), PYTHONPATH=str(REPO / "daemon"))
    return subprocess.run([sys.executable, "-m", "mrtd", "doctor", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=REPO)


def mark(folder: Path, source: str) -> None:
    (folder / SOURCE_FILE).write_text(json.dumps({"source": source, "installed_at": "2025-01-01T00:00:00Z"}))


def test_a_random_weight_export_on_this_cpu_is_offline_only_with_its_figures(tmp_path, official_home):
    folder = tmp_path / "magenta-rt-v2" / "models" / OFFICIAL
    folder.mkdir(parents=True)
    for name in (f"{OFFICIAL}.mlxfn", f"{OFFICIAL}_state.safetensors"):  # where the official tool puts them
        (folder / name).symlink_to(official_home / "magenta-rt-v2" / "models" / OFFICIAL / name)
    mark(folder, "random-weights")
    done = doctor(tmp_path, "--seconds", "0")  # the fewest steps: 2 timed after the first
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"model      {OFFICIAL} (random weights" in out
    assert "verdict: offline only" in out
    assert "2 timed steps on MLX cpu" in out and "against the 40 ms budget" in out
    median = float(out.split("median ")[1].split(" ms")[0])
    assert median > 40.0  # measured: seconds per step on a CPU
    assert "would change it: a GPU" in out
    assert f"render   mrtd render scenes/live-coding.yaml -o out.wav --engine mrt2 --model {OFFICIAL}" in out
    # Before the steps: how many, and about how long.
    assert "2 timed steps follow, about" in done.stderr


def test_both_backends_are_timed_and_the_doctor_says_which_one_auto_plays(tmp_path, jax_home, monkeypatch):
    # MLX: the tiny signature model under the name mrt2_small (a step in microseconds: live); JAX: the
    # random-weights checkpoint of the official 1-layer architecture (~0.3 s a step here: offline only).
    mark(export_tiny_model(tmp_path, OFFICIAL), "folder")
    checkpoints = tmp_path / "magenta-rt-v2" / "checkpoints"  # where `mrt checkpoints download` puts them
    checkpoints.mkdir()
    (checkpoints / f"{OFFICIAL}.safetensors").symlink_to(jax_home / "magenta-rt-v2" / "checkpoints" / f"{OFFICIAL}.safetensors")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(COMPILE_CACHE))  # the step compiled by the fixture's session
    done = doctor(tmp_path, "--seconds", "0")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "JAX        " in out and ": JAX cpu (CPU" in out
    assert f"model      {OFFICIAL} (from a folder" in out and f"model      {OFFICIAL} on jax (random weights" in out
    assert "timed steps on MLX cpu" in out and "2 timed steps on JAX cpu" in out
    assert f"backend    auto plays {OFFICIAL} on mlx here: the fastest real-time backend here" in out
    assert f"play     mrtd run --engine mrt2 --model {OFFICIAL} --backend mlx" in out
    assert "would change it: a GPU: an NVIDIA GPU with JAX's CUDA backend (pip install 'jax[cuda12]')" in out


def test_json_has_the_documented_fields_and_a_fast_model_is_live(tmp_path):
    folder = export_tiny_model(tmp_path, "mrt2_tiny")
    mark(folder, "folder")
    done = doctor(tmp_path, "--json", "--seconds", "1")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # one object on stdout; progress went to stderr
    assert report["doctor"] == 1
    assert {"platform", "mlx", "audio", "midi", "web", "magenta_home", "resources", "models", "next", "jax",
            "auto_backend"} <= set(report)
    assert {"installed", "version", "magenta_rt", "cuda_plugin", "device", "error"} <= set(report["jax"])
    assert report["mlx"]["backend"] == "cpu" and report["mlx"]["version"]
    assert {"outputs", "jack_running", "error"} <= set(report["audio"])
    [model] = report["models"]
    assert model["name"] == "mrt2_tiny" and model["source"] == "folder" and model["backend"] == "mlx"
    assert model["verdict"] == LIVE and model["p99_ms"] <= 40.0 and model["steps"] >= 2
    assert report["next"]["play"] == ["mrtd run --engine mrt2 --model mrt2_tiny"]
    assert report["resources"]["musiccoca"]["present"] is False
    # The presets' margins and the control latency each gives, with this model and with the synth.
    latency = report["latency"]
    assert latency["margin_ms"] == {name: preset.margin_ms for name, preset in LATENCY_PRESETS.items()}
    assert latency["default"] == "balanced" and 0 < latency["synth_p99_ms"] < 40
    for figures in (latency["synth_control_latency_ms"], model["control_latency_ms"]):
        assert list(figures) == ["low", "balanced", "safe"]
        assert 40 < figures["low"] < figures["balanced"] < figures["safe"]  # a frame's wait, then the margin
    assert model["control_latency_ms"]["low"] >= 40 + LATENCY_PRESETS["low"].margin_ms + model["p99_ms"]


def test_without_models_it_says_how_to_get_them(tmp_path):
    done = doctor(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "models     none under" in done.stdout
    assert "mrtd models install mrt2_small" in done.stdout and "--from DIR" in done.stdout
    assert "--random-weights" in done.stdout
    assert "mrtd models install resources" in done.stdout
    assert "play     mrtd run  # the built-in synth" in done.stdout


def test_a_broken_model_file_is_named_without_a_traceback(tmp_path):
    truncated = export_tiny_model(tmp_path, "mrt2_cut")
    function = truncated / "mrt2_cut.mlxfn"
    function.write_bytes(function.read_bytes()[:200])
    keys = export_tiny_model(tmp_path, "mrt2_keys")
    mx = mlx_core()
    mx.save_safetensors(str(keys / "mrt2_keys_state.safetensors"), {"state_0": mx.zeros((1,)), "state_2": mx.zeros((1,))})
    done = doctor(tmp_path)
    assert done.returncode == 0
    assert "Traceback" not in done.stdout + done.stderr
    assert f"broken: mrt2 model 'mrt2_cut': cannot import {function}" in done.stdout
    assert f"broken: {keys / 'mrt2_keys_state.safetensors'}: state_1 is missing" in done.stdout
    assert "mrtd models install mrt2_cut  # again" in done.stdout


SAFE_MARGIN_S = LATENCY_PRESETS["safe"].margin_ms / 1000


@pytest.mark.parametrize(("p50", "p99", "margin_s", "verdict"), [
    (10.0, 30.0, None, (LIVE, None)),
    (25.0, 120.0, SAFE_MARGIN_S, (LIVE_AT, "safe")),  # slow steps the safe preset's margin carries
    (35.0, 120.0, None, (OFFLINE_ONLY, None)),  # the median leaves no time to refill the ring
    (30.0, 400.0, None, (OFFLINE_ONLY, None)),
])
def test_the_verdict_and_the_daemon_agree_on_what_plays_live(p50, p99, margin_s, verdict):
    measured = Verdict(9, p50, p99, "test")
    assert live_verdict(measured) == verdict

    class Measured:
        name = "mrt2"
        def describe(self) -> str:
            return "mrt2 test"
    engine = Measured()
    engine.verdict = measured  # type: ignore[attr-defined]
    # The default margin refuses what the doctor calls live elsewhere; the margin the doctor names plays it.
    assert (too_slow_message(engine) is None) == (verdict[0] == LIVE)  # type: ignore[arg-type]
    if margin_s is not None:
        assert too_slow_message(engine, margin_s) is None  # type: ignore[arg-type]


def test_status_the_start_log_and_the_page_name_a_random_weight_model(tmp_path, caplog):
    folder = export_tiny_model(tmp_path, "mrt2_tiny")
    mark(folder, "random-weights")
    engine = Mrt2Engine("mrt2_tiny", tmp_path, warmup_steps=4)
    caplog.set_level(logging.INFO, logger="mrtd")
    with running_daemon(tmp_path, engine=engine, web=WebConfig(port=0), midi=False) as (daemon, _):
        status = daemon.status()
        assert status["model_source"] == "random-weights" and status["model_verdict"] == LIVE
        assert "[random weights]" in status["engine"]
        assert any("engine: mrt2 mrt2_tiny" in r.message and "random weights, live" in r.message for r in caplog.records)
        with chromium() as browser:
            page = open_page(browser, daemon.web.url())
            wait_for(lambda: page.evaluate("document.getElementById('model').textContent") != "", 10, "the model line")
            assert page.evaluate("document.getElementById('model').textContent") == "random weights · mlx · live"
            assert page.evaluate("document.getElementById('model').classList.contains('warn')")
            assert page.evaluate("!document.getElementById('model').hidden")


def test_the_synth_shows_no_model_line():
    assert model_line({"model_source": "built-in", "model_verdict": LIVE}) == ""
    assert model_line({"model_source": "hub", "model_verdict": "live-at-safe"}) == "downloaded · live at --latency safe"
    assert model_line({"model_source": "hub", "backend": "jax", "model_verdict": "offline-only"}) == "downloaded · jax · offline only"
