"""PCA files in the official format: round trip, centroids, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.style.pca import PCAFileError, load_pca, save_pca
from style_fakes import unit


def components(count: int = 6) -> list[np.ndarray]:
    basis, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((EMBEDDING_DIM, count)))
    return [basis[:, i].astype(np.float32) for i in range(count)]


def test_a_pca_file_round_trips(tmp_path):
    path = tmp_path / "corpus.safetensors"
    centroids = {"lofi": unit(1), "techno": unit(2)}
    save_pca(path, components(), centroids)
    loaded = load_pca(path)
    assert len(loaded.components) == 6
    for original, read in zip(components(), loaded.components):
        np.testing.assert_array_equal(read, original)
    assert set(loaded.centroids) == {"lofi", "techno"}
    np.testing.assert_array_equal(loaded.centroids["techno"], unit(2))
    assert not list(tmp_path.glob(".*tmp")), "no temporary file left behind"


def test_official_layout_other_keys_and_fewer_components(tmp_path):
    path = tmp_path / "official.safetensors"
    tensors = {f"component_{i}": c for i, c in enumerate(components(3))}
    tensors["explained_variance"] = np.array([0.5, 0.3, 0.2], dtype=np.float32)  # not 768-d: ignored
    tensors["Dark_Ambient"] = unit(3).reshape(1, EMBEDDING_DIM)  # [1, 768] is accepted
    save_file(tensors, str(path))
    loaded = load_pca(path)
    assert len(loaded.components) == 3
    assert list(loaded.centroids) == ["dark_ambient"], "names are lower-cased like the official engine"


def test_missing_component_zero_is_named(tmp_path):
    path = tmp_path / "none.safetensors"
    save_file({"techno": unit(1)}, str(path))
    with pytest.raises(PCAFileError, match="no component_0"):
        load_pca(path)


def test_a_gap_in_components_is_named(tmp_path):
    path = tmp_path / "gap.safetensors"
    c = components(4)
    save_file({"component_0": c[0], "component_1": c[1], "component_3": c[3]}, str(path))
    with pytest.raises(PCAFileError, match="component_3 but not component_2"):
        load_pca(path)


def test_a_misshapen_component_is_named_with_its_shape(tmp_path):
    path = tmp_path / "shape.safetensors"
    save_file({"component_0": np.zeros(512, dtype=np.float32)}, str(path))
    with pytest.raises(PCAFileError, match=r"component_0 has shape \(512,\), expected \(768,\)"):
        load_pca(path)
    path2 = tmp_path / "matrix.safetensors"
    save_file({"component_0": np.zeros((2, 768), dtype=np.float32)}, str(path2))
    with pytest.raises(PCAFileError, match="component_0 has shape"):
        load_pca(path2)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(PCAFileError, match="not found"):
        load_pca(tmp_path / "absent.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(PCAFileError, match="not a readable safetensors file"):
        load_pca(junk)
