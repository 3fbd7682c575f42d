"""`mrtd render` as a tool for slow machines: progress on a terminal only, deterministic with the
model, `--engine auto` picks the installed model, and Ctrl-C leaves a valid WAV."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import mrt2_tiny as tiny
from conftest import wait_for
from mrtd.app.logs import setup_logging, stop_logging
from mrtd.app.render import render_scene
from mrtd.app.render_progress import ProgressBar

ROOT = Path(__file__).parent.parent
SCENE = sorted((ROOT / "scenes").glob("*.yaml"))[0]


def test_the_progress_bar_shows_an_eta_on_a_terminal_only():
    now = [0.0]
    shown = io.StringIO()
    bar = ProgressBar(250, stream=shown, clock=lambda: now[0], enabled=True)
    now[0] = 20.0
    bar.update(50)  # 2 s of 10 s of audio in 20 s: 80 s to go
    assert "20.0%" in shown.getvalue() and "2.0/10.0 s of audio" in shown.getvalue()
    assert "ETA 1m20s" in shown.getvalue()
    quiet = io.StringIO()  # not a terminal
    ProgressBar(250, stream=quiet).update(50)
    assert quiet.getvalue() == ""


def test_auto_renders_the_installed_model_deterministically(tmp_path, monkeypatch):
    tiny.export_tiny_model(tmp_path, "mrt2_small")
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    # No prompts: with style tokens the tiny stand-in model's units saturate and its audio no
    # longer shows its sampling noise, so a seed change could not be heard in it.
    scene = tmp_path / "plain.yaml"
    scene.write_text("name: plain\ntempo: 100\ndefaults: {temperature: 1.2}\n")
    first, second, other = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    result = render_scene(scene, first, seconds=2, seed=5, engine_name="auto", cache_dir=str(tmp_path / "cache"))
    assert result.engine.startswith("mrt2 mrt2_small") and result.frames == 50 and not result.interrupted
    render_scene(scene, second, seconds=2, seed=5, engine_name="auto", cache_dir=str(tmp_path / "cache"))
    render_scene(scene, other, seconds=2, seed=6, engine_name="auto", cache_dir=str(tmp_path / "cache"))
    assert first.read_bytes() == second.read_bytes(), "same seed, same file"
    assert first.read_bytes() != other.read_bytes(), "the seed reaches the model"


def test_a_render_slower_than_real_time_does_not_say_the_output_has_gaps(tmp_path, monkeypatch, caplog):
    """Offline, a step over 40 ms leaves no gap: the live warning ("behind real time ... the output
    has gaps ... or mrtd render") would send a user already rendering to render."""
    import logging

    from engines_for_tests import ToneEngine
    import mrtd.app.render as render

    monkeypatch.setattr(render, "create_engine", lambda *args, **kwargs: ToneEngine(step_seconds=0.05))
    scene = tmp_path / "plain.yaml"
    scene.write_text("name: plain\n")
    with caplog.at_level(logging.WARNING):
        result = render_scene(scene, tmp_path / "slow.wav", seconds=1.2, cache_dir=str(tmp_path / "cache"))
    assert result.frames == 30 and result.peak > 0.1
    assert not [r for r in caplog.records if "behind real time" in r.getMessage()]


def test_ctrl_c_leaves_a_valid_wav_of_what_was_rendered(tmp_path):
    out = tmp_path / "long.wav"
    process = subprocess.Popen(
        [sys.executable, "-m", "mrtd", "render", str(SCENE), "-o", str(out), "--seconds", "3600"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MRTD_CACHE_DIR": str(tmp_path / "cache")},
    )
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 200_000, 60.0, "the render to write audio")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout and "ETA" not in stderr, "no progress bar without a terminal"
    with wave.open(str(out)) as wav:
        frames = wav.getnframes()
        assert wav.getframerate() == 48000 and wav.getnchannels() == 2
        data = wav.readframes(frames)
    assert len(data) == frames * 4, "the header matches the data"
    assert frames > 0 and frames % 1920 == 0 and frames < 3600 * 48000, "whole frames, stopped early"
    # The header is the recordings' (audio/wavfile.py): 80 bytes, JUNK kept for RF64 past 4 GiB.
    assert out.stat().st_size == 80 + frames * 4, "nothing after the data the header describes"


def test_the_cli_renders_a_named_model_and_says_which_style_it_uses(tmp_path):
    tiny.export_tiny_model(tmp_path, "mrt2_other", weights_seed=3)
    env = {**os.environ, "MAGENTA_HOME": str(tmp_path)}
    scene = tmp_path / "plain.yaml"
    scene.write_text("name: plain\ntempo: 100\n")
    out = tmp_path / "other.wav"
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(out), "--seconds", "0.2",
                           "--engine", "mrt2", "--model", "mrt2_other", "--musiccoca-dir", str(tmp_path / "mc")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "with mrt2 mrt2_other" in done.stdout
    assert "style built-in" in done.stderr and "prompts will not steer the mrt2 model" in done.stderr
    assert str(tmp_path / "mc") in done.stderr, "the MusicCoCa folder the user named is where files are looked for"


def test_a_missing_model_is_one_line_not_a_traceback(tmp_path):
    env = {**os.environ, "MAGENTA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(SCENE), "-o", str(tmp_path / "x.wav"),
                           "--engine", "mrt2", "--model", "mrt2_nope"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "mrt2_nope" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "x.wav").exists()


def _screen(written: str) -> list[str]:
    """What a terminal shows for `written`: \\r returns to the line's start, ESC[K erases to its end."""
    lines, line, column = [], "", 0
    for token in re.split(r"(\r|\n|\x1b\[K)", written):
        if token == "\n":
            lines.append(line)
            line, column = "", 0
        elif token == "\r":
            column = 0
        elif token == "\x1b[K":
            line = line[:column]
        elif token:
            line = line[:column] + token + line[column + len(token):]
            column += len(token)
    return lines + [line]


def test_a_log_line_during_a_render_lands_above_the_bar_not_inside_it():
    shown = io.StringIO()
    root = logging.getLogger()
    kept = list(root.handlers), root.level
    setup_logging("info", stream=shown)  # the real path: a queue and its writer thread
    try:
        bar = ProgressBar(250, stream=shown, clock=lambda: 20.0, enabled=True)
        bar.update(50)
        logging.getLogger("mrtd.test").warning("the style encoder is slow")
        stop_logging()  # writes out what is queued
        bar.update(250)
        bar.finish()
    finally:
        stop_logging()
        root.handlers[:], _ = kept[0], root.setLevel(kept[1])
    screen = [line for line in _screen(shown.getvalue()) if line]
    assert len(screen) == 2, screen
    assert screen[0].endswith("WARNING mrtd.test: the style encoder is slow") and "s of audio" not in screen[0], screen
    assert screen[1].startswith("[" + "#" * 30 + "] 100.0%"), screen
