"""Offline goes through the live path: a scene played live into a WAV and the same scene rendered
by `mrtd render` are the same samples (synth, fixed seed, no live input)."""

from __future__ import annotations

import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from conftest import free_udp_port, wait_for
from osc_probe import OscProbe

SCENE = (
    "tempo: 96\n"
    "prompts: {rain: soft rain on a tin roof, bells: distant church bells, pulse: minimal techno pulse}\n"
    "axes: {weather: {from: rain, to: bells}}\n"
    "defaults: {temperature: 1.2}\n"
    "cues:\n"
    "  - {name: intro, at: 0, mix: {rain: 1}}\n"
    "  - {name: bells, at: 1.2, mix: {bells: 1, rain: 0.3}, fade: {beats: 2, curve: s-curve}}\n"
    '  - {name: pulse, at: "3:1", mix: {pulse: 1}, fade: {seconds: 0.8}, set: {drums: 1}}\n'  # 5 s at 96 BPM
    "  - {name: held}\n"
)


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def test_a_scene_played_live_and_rendered_offline_match_sample_for_sample(tmp_path):
    scene = tmp_path / "set.yaml"
    scene.write_text(SCENE)
    live_wav, offline_wav, port = tmp_path / "live.wav", tmp_path / "offline.wav", free_udp_port()
    log = tmp_path / "live.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--seed", "7", "--scene", str(scene),
             "--output", "null", "--output", f"wav:{live_wav}", "--no-midi", "--osc-port", str(port)],
            stderr=stderr)
    probe = OscProbe(port)
    try:
        wait_for(lambda: "ready" in log.read_text() or process.poll() is not None, 30, "mrtd to start")
        assert process.poll() is None, log.read_text()
        probe.request("/mrt/subscribe", "/mrt/subscribed")
        fired = probe.transcript.wait_for_first("/mrt/cue", ["pulse"], timeout=20, what="the last timed cue")
        probe.transcript.wait_for(lambda heard: heard.after(fired).count("/mrt/beat") >= 3, 20, "the pulse's fade to end")
    finally:
        probe.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0, log.read_text()

    render = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(offline_wav),
                             "--seconds", "6.2", "--seed", "7"], capture_output=True, text=True, timeout=120)
    assert render.returncode == 0, render.stderr
    live, offline = _samples(live_wav), _samples(offline_wav)
    assert len(offline) == 6.2 * 48000 and len(live) >= len(offline), (len(live), len(offline))
    assert np.abs(offline).max() > 1000, "the scene makes sound"
    different = np.flatnonzero(np.any(live[: len(offline)] != offline, axis=1))
    assert different.size == 0, f"first difference at {different[0] / 48000:.3f} s of {len(offline) / 48000:.0f} s"
