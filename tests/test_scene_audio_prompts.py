"""Scenes with `audio:` prompts: `mrtd check` refuses what loading would refuse, and loading works."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from conftest import probed_daemon, wait_for
from mrtd.style.audio_prompt import read_audio_file
from mrtd.style.builtin_audio import BuiltinAudioEmbedder
from mrtd.engines.descriptors import DESCRIPTOR_INDEX, descriptors

RATE = 48_000


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _low_hum(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * 110 * t)


def _bright_clicks(seconds: float = 3.0) -> np.ndarray:
    noise = np.random.default_rng(3).standard_normal(int(seconds * RATE))
    bright = np.diff(noise, prepend=0.0)  # high-passed noise
    gate = (np.arange(len(noise)) % (RATE // 8)) < RATE // 40  # 8 short bursts a second
    return 0.3 * bright * gate


def _scene(folder: Path, audio: str) -> Path:
    path = folder / "take.yaml"
    path.write_text(f"prompts:\n  hum: {{audio: {audio}}}\n  words: dark ambient drone\n"
                    "cues:\n  - {at: 0, mix: {hum: 1}}\n")
    return path


def _check(path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", "check", str(path), *options], capture_output=True, text=True, timeout=60)


def test_check_refuses_an_audio_prompt_that_loading_would_refuse(tmp_path):
    (tmp_path / "secret.wav").write_bytes(b"not audio at all")
    inner = tmp_path / "scenes"
    inner.mkdir()
    for audio, says in [("missing.wav", "no such file"), ("../secret.wav", "leads outside the scene's folder")]:
        result = _check(_scene(inner, audio))
        assert result.returncode == 1, audio
        assert re.search(re.escape(str(inner / "take.yaml")) + r":\d+: prompts\.hum\.audio:", result.stderr), result.stderr
        assert says in result.stderr
    (inner / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    result = _check(_scene(inner, "broken.wav"))
    assert result.returncode == 1 and "broken.wav" in result.stderr and "RIFF" not in result.stderr.replace("broken.wav", "")
    audio = tmp_path / "audio"
    audio.mkdir()
    _wav(audio / "hum.wav", _low_hum())  # the daemon's audio folder, where loading also looks
    assert _check(_scene(inner, "hum.wav")).returncode == 1
    result = _check(_scene(inner, "hum.wav"), "--audio-dir", str(audio))
    assert result.returncode == 0, result.stderr
    _wav(inner / "hum.wav", _low_hum())
    result = _check(_scene(inner, "hum.wav"))
    assert result.returncode == 0, result.stderr


def test_a_scene_with_an_audio_prompt_loads_and_plays_it(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    _wav(folder / "hum.wav", _low_hum())
    scene = _scene(folder, "hum.wav")
    with probed_daemon(tmp_path, scene=str(scene), scene_dir=str(folder)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene is not None, 10, "the scene to install")
        assert daemon.scenes.last_errors == []
        expected = BuiltinAudioEmbedder().embed_audio(*read_audio_file(folder / "hum.wav"))
        wait_for(lambda: engine.seen and np.allclose(engine.seen[-1].style_embedding, expected, atol=1e-6), 10, "the audio prompt in the mix")
        assert np.linalg.norm(expected) > 0.5


def test_builtin_audio_prompts_mean_what_they_sound_like():
    embedder = BuiltinAudioEmbedder()
    hum = descriptors(embedder.embed_audio(_low_hum()[:, None], RATE))
    clicks = descriptors(embedder.embed_audio(_bright_clicks()[:, None], RATE))
    for name in ("brightness", "density"):
        assert clicks[DESCRIPTOR_INDEX[name]] > hum[DESCRIPTOR_INDEX[name]] + 0.1, name
    silence = embedder.embed_audio(np.zeros((RATE, 1)), RATE)
    assert not silence.any(), "silence sets no style, as the empty text"


def test_loading_a_scene_over_osc_never_makes_the_input_thread_wait_for_embedding(tmp_path):
    """MusicCoCa takes a while per prompt: /mrt/scene/load answers, and OSC keeps answering, meanwhile."""
    import threading

    from engines_for_tests import RecordingEngine
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.app.style_choice import StyleChoice
    from mrtd.inputs.osc.server import OscConfig
    from mrtd.style.quantizer import BuiltinQuantizer
    from osc_probe import OscProbe
    from style_fakes import CountingEmbedder

    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "slow.yaml").write_text("prompts:\n  a: dark ambient drone\ncues:\n  - {at: 0, mix: {a: 1}}\n")
    gate = threading.Event()
    embedder = CountingEmbedder(delay=gate)
    style = StyleChoice("builtin", embedder, BuiltinQuantizer(), tmp_path, reason="a test")
    daemon = Daemon(DaemonConfig(output="null", osc=OscConfig(port=0), scene_dir=str(folder), midi=False,
                                 cache_dir=str(tmp_path / "cache")), engine=RecordingEngine(), style=style)
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        probe.send("/mrt/scene/load", "slow")
        assert probe.request("/mrt/ping", "/mrt/pong", timeout=2.0) is not None, "OSC answers while the prompt embeds"
        assert embedder.text_calls == 0 and daemon.control.scene is None
        gate.set()
        wait_for(lambda: daemon.control.scene is not None, 10, "the scene once its prompt is embedded")
        assert embedder.threads and threading.main_thread().ident not in embedder.threads
    finally:
        gate.set()
        probe.close()
        daemon.stop()


def test_render_plays_a_scene_with_an_audio_prompt(tmp_path):
    """Offline render picks the same embedder pair as a live run, so an audio prompt renders too."""
    import wave

    from mrtd.app.render import render_scene

    folder = tmp_path / "scenes"
    folder.mkdir()
    _wav(folder / "hum.wav", _low_hum())
    out = tmp_path / "take.wav"
    render_scene(_scene(folder, "hum.wav"), out, seconds=1.0, cache_dir=str(tmp_path / "cache"), progress=False)
    with wave.open(str(out)) as reader:
        assert reader.getnframes() == 48000
