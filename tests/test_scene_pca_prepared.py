"""A scene's PCA file is read while the scene is prepared, never on the generation thread."""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.core.scene.loader import SceneError, load_scene
from mrtd.core.scene.player import ScenePlayer, prepare_scene
from mrtd.style.pca import save_pca
from style_fakes import unit
from style_fakes import builtin_control

SCENE = """
name: pca-scene
pca: corpus.safetensors
prompts:
  warm: {embedding: [%s]}
cues:
  - {name: start, at: 0, mix: {warm: 1}}
"""


def _scene(tmp_path):
    path = tmp_path / "scene.yaml"
    path.write_text(SCENE % ", ".join(["0.036"] * EMBEDDING_DIM))
    return path


def test_installing_a_prepared_scene_reads_no_file(tmp_path):
    basis, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((EMBEDDING_DIM, 6)))
    save_pca(tmp_path / "corpus.safetensors", [basis[:, i].astype(np.float32) for i in range(6)], {"lofi": unit(1)})
    path = _scene(tmp_path)
    prepared = prepare_scene(load_scene(path), path, embed_text=lambda text: unit(3))
    (tmp_path / "corpus.safetensors").unlink()  # anything that reads it now fails
    state = builtin_control()
    ScenePlayer(prepared).install(state, 0)  # what the generation thread runs
    assert "lofi" in state.style.weights(), "the centroid became a prompt"
    state.style.set_axis(5, 1.0)  # the sixth component is there: the file was installed


def test_a_bad_pca_file_refuses_the_scene_before_it_reaches_the_generation_thread(tmp_path):
    (tmp_path / "corpus.safetensors").write_bytes(b"not safetensors")
    path = _scene(tmp_path)
    with pytest.raises(SceneError, match="not a usable PCA file"):  # the loader reads it, off that thread
        load_scene(path)
