"""`mrtd render -o` writes only a file of its own, as a live recording does: never over an existing
file unless asked (--overwrite), never through a symlink, never over the scene or a file it reads.

Issue 26, item 7: `mrtd render s.yaml -o s.yaml` used to truncate the scene it was rendering, and
`-o link` wrote wherever the link pointed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from mrtd.app.render import OutputRefused, render_scene

SCENE = "prompts: {a: warm pads}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n"
VICTIM = b"someone else's file, which must survive\n"


def _scene(folder: Path, text: str = SCENE) -> Path:
    path = folder / "s.yaml"
    path.write_text(text)
    return path


def _render(scene: Path, out: Path, overwrite: bool = False) -> None:
    render_scene(scene, out, seconds=0.2, cache_dir=str(scene.parent / "cache"), progress=False, overwrite=overwrite)


def _frames(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return wav.getnframes()


def test_render_to_its_own_scene_is_refused_and_the_scene_survives(tmp_path):
    scene = _scene(tmp_path)
    for overwrite in (False, True):
        done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(scene), "--seconds", "0.2"]
                              + (["--overwrite"] if overwrite else []), capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "which this render reads" in done.stderr and "Traceback" not in done.stderr
        assert scene.read_text() == SCENE, "the scene is untouched"


def test_a_hard_link_to_the_scene_is_the_scene(tmp_path):
    scene = _scene(tmp_path)
    os.link(scene, tmp_path / "alias.wav")
    with pytest.raises(OutputRefused, match="which this render reads"):
        _render(scene, tmp_path / "alias.wav", overwrite=True)
    assert scene.read_text() == SCENE


def test_render_over_an_audio_prompt_it_reads_is_refused(tmp_path):
    hum = tmp_path / "hum.wav"
    with wave.open(str(hum), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes((np.sin(np.arange(16000) * 0.05) * 8000).astype("<i2").tobytes())
    before = hum.read_bytes()
    scene = _scene(tmp_path, "prompts: {a: {audio: hum.wav}}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n")
    with pytest.raises(OutputRefused, match="which this render reads"):
        _render(scene, hum, overwrite=True)
    assert hum.read_bytes() == before


@pytest.mark.parametrize("overwrite", [False, True])
def test_render_never_writes_through_a_symlink(tmp_path, overwrite):
    scene = _scene(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    (tmp_path / "out.wav").symlink_to(victim)
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "created-elsewhere.wav")
    for link in ("out.wav", "dangling.wav"):
        with pytest.raises(OutputRefused, match="symlink"):
            _render(scene, tmp_path / link, overwrite=overwrite)
    assert victim.read_bytes() == VICTIM and not (tmp_path / "created-elsewhere.wav").exists()


def test_an_existing_file_is_kept_unless_overwrite_is_asked_for(tmp_path):
    scene = _scene(tmp_path)
    out = tmp_path / "take.wav"
    out.write_bytes(VICTIM)
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(out), "--seconds", "0.2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "exists: nothing was written (--overwrite replaces it" in done.stderr, done.stderr
    assert out.read_bytes() == VICTIM
    _render(scene, out, overwrite=True)
    assert _frames(out) == round(0.2 * 48000), "--overwrite replaces it with the render"


def test_a_new_name_is_rendered(tmp_path):
    scene = _scene(tmp_path)
    _render(scene, tmp_path / "new.wav")
    assert _frames(tmp_path / "new.wav") == round(0.2 * 48000)
