"""`mrtd run` as a user runs it: a real process, real signals, a real WAV file."""

import signal
import subprocess
import sys
import wave

import numpy as np
import pytest

from mrtd.frame import SAMPLE_RATE


def _mrtd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mrtd", *args]


def test_run_for_n_seconds_writes_a_wav_of_that_length(tmp_path):
    path = tmp_path / "take.wav"
    result = subprocess.run(
        _mrtd("run", "--engine", "synth", "--output", f"wav:{path}", "--seconds", "1.5", "--prompt", "bright piano"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "engine: synth" in result.stderr and f"output: wav:{path}" in result.stderr
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 2
        frames = wav.getnframes()
        audio = np.frombuffer(wav.readframes(frames), dtype=np.int16)
    assert abs(frames / SAMPLE_RATE - 1.5) < 0.1
    assert np.abs(audio).max() > 1000, "the take has music in it"


def test_sigterm_stops_cleanly(tmp_path):
    process = subprocess.Popen(
        _mrtd("run", "--engine", "synth", "--output", "null"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:
            if line.rstrip().endswith("ready"):
                break
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=20)[1]
    finally:
        process.kill()
    assert process.returncode == 0
    assert "SIGTERM" in rest and "stopped after" in rest


def test_unknown_output_is_one_clear_line():
    result = subprocess.run(_mrtd("run", "--engine", "synth", "--output", "cassette"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown output 'cassette'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command, failed", [(("run", "--seconds", "5", "--config"), 2), (("check", "--config"), 1)],
                         ids=["run", "check"])
def test_a_config_reports_every_mistake_at_once_before_anything_starts(tmp_path, command, failed):
    """`mrtd check --config` finds exactly what `mrtd run --config` would refuse."""
    import os

    plain = tmp_path / "plain-file"
    plain.write_text("not a folder or a FIFO\n")
    os.mkfifo(tmp_path / "fifo")
    config = tmp_path / "mrtd.yaml"
    config.write_text(f"record_dir: {plain}\nscene_dir: {tmp_path}/nonexistent\nstate_dir: {plain}\n"
                      f"outputs: [pipe:{plain}, pipe:{tmp_path}/fifo]\nengin: synth\nseed: 1\nseed: 2\n")
    result = subprocess.run(_mrtd(*command, str(config)), capture_output=True, text=True, timeout=60)
    assert result.returncode == failed
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{config}:")]
    assert lines == [
        f"{config}:1: record_dir: {plain} is not a folder",
        f"{config}:2: scene_dir: no folder {tmp_path}/nonexistent",
        f"{config}:3: state_dir: {plain} is not a folder",
        f"{config}:4: outputs[0]: {plain} is not a FIFO (make one with mkfifo, or use pipe:- for stdout)",
        f"{config}:5: engin: unknown key 'engin' (did you mean 'engine'?)",
        f"{config}:7: key 'seed' given twice (first on line 6)",
    ], result.stderr
    assert plain.read_text() == "not a folder or a FIFO\n"


def test_check_says_ok_to_a_good_config_and_asks_what_to_check_without_arguments(tmp_path):
    config = tmp_path / "mrtd.yaml"
    (tmp_path / "scenes").mkdir()
    config.write_text(f"engine: synth\nscene_dir: {tmp_path / 'scenes'}\n")
    result = subprocess.run(_mrtd("check", "--config", str(config)), capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, f"{config}: ok"), result.stderr
    result = subprocess.run(_mrtd("check"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "check what?" in result.stderr
