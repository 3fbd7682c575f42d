"""Quantizers: the built-in RVQ, and MusicCoCa's through an injected interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import style_fakes as fakes
from mrtd.conditioning import MASKED
from mrtd.style.musiccoca_assets import MissingAssetError, ModelShapeError
from mrtd.style.quantizer import CODEBOOK_SIZE, BuiltinQuantizer, MusicCoCaQuantizer, default_quantizer
from style_fakes import unit


@pytest.fixture(scope="module")
def builtin() -> BuiltinQuantizer:
    return BuiltinQuantizer(active_levels=12)


def test_builtin_is_deterministic_across_instances(builtin):
    again = BuiltinQuantizer(active_levels=12)
    for seed in range(5):
        np.testing.assert_array_equal(builtin.quantize(unit(seed)), again.quantize(unit(seed)))


def test_builtin_tokens_are_codebook_indices_and_residuals_shrink(builtin):
    embedding = unit(3)
    tokens = builtin.quantize(embedding)
    assert tokens.dtype == np.int32 and ((0 <= tokens) & (tokens < CODEBOOK_SIZE)).all()
    residual = embedding.astype(np.float64)
    lengths = [np.linalg.norm(residual)]
    for level, token in enumerate(tokens):
        residual = residual - builtin.codebooks[level][token]
        lengths.append(np.linalg.norm(residual))
    assert all(later < earlier for earlier, later in zip(lengths, lengths[1:]))
    # Each codeword is the nearest one to the residual of its level.
    residual = embedding.astype(np.float64)
    for level, token in enumerate(tokens):
        distances = np.linalg.norm(builtin.codebooks[level] - residual, axis=1)
        assert token == int(distances.argmin())
        residual = residual - builtin.codebooks[level][token]


def test_levels_six_to_eleven_are_masked_by_default():
    tokens = BuiltinQuantizer().quantize(unit(1))
    assert (tokens[:6] >= 0).all() and (tokens[6:] == MASKED).all()
    assert (BuiltinQuantizer(active_levels=3).quantize(unit(1))[3:] == MASKED).all()
    np.testing.assert_array_equal(BuiltinQuantizer().quantize(unit(1))[:6], BuiltinQuantizer(active_levels=12).quantize(unit(1))[:6])
    with pytest.raises(ValueError):
        BuiltinQuantizer(active_levels=13)


def test_different_styles_give_different_tokens(builtin):
    assert not np.array_equal(builtin.quantize(unit(1)), builtin.quantize(unit(2)))


def test_musiccoca_quantizer_through_the_interpreter(tmp_path):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc")
    interpreter = fakes.quantizer()
    quantizer = MusicCoCaQuantizer(folder, interpreter_factory=lambda path: interpreter)
    embedding = unit(4)
    out = np.zeros(12, dtype=np.int32)
    tokens = quantizer.quantize(embedding, out=out)
    assert tokens is out
    expected = (np.abs(embedding[:12]) * 1000).astype(np.int32) % 1024
    np.testing.assert_array_equal(tokens[:6], expected[:6])
    assert (tokens[6:] == MASKED).all()
    sent = interpreter.history[-1][0]
    assert sent.shape == (1, 768) and sent.dtype == np.float32


def test_musiccoca_quantizer_missing_file_is_named(tmp_path):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc", skip=("pretrained_vector_quantizer.tflite",))
    with pytest.raises(MissingAssetError, match="pretrained_vector_quantizer.tflite"):
        MusicCoCaQuantizer(folder, interpreter_factory=lambda path: fakes.quantizer())


def test_musiccoca_quantizer_wrong_shapes_fail_at_load(tmp_path):
    folder = fakes.make_musiccoca_dir(tmp_path / "mc")
    with pytest.raises(ModelShapeError, match=r"pretrained_vector_quantizer.tflite: embedding input has shape \(1, 512\)"):
        MusicCoCaQuantizer(folder, interpreter_factory=lambda path: fakes.quantizer(input_shape=(1, 512)))
    with pytest.raises(ModelShapeError, match="output has 6 values, expected at least 12"):
        MusicCoCaQuantizer(folder, interpreter_factory=lambda path: fakes.quantizer(output_shape=(1, 6)))


def test_default_quantizer_falls_back_to_builtin(tmp_path):
    assert isinstance(default_quantizer(tmp_path / "nothing-here"), BuiltinQuantizer)
