"""The style around the step, judged by the official engine's rules, not by mrtd's.

Each expected value here comes from magenta-realtime 2.0.3's C++ engine
(core/src/mlx_engine.cpp, `reblend_musiccoca_tokens`): a blend is made only when some
prompt with an embedding has a weight above 0 and the weights sum to at least 1e-4;
otherwise the call returns and the tokens sent stay what they were, PCA moves included.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.conditioning import MASKED, STYLE_TOKENS
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import StyleSpace
from style_fakes import unit

OFFICIAL_MIN_WEIGHT_SUM = 1e-4  # mlx_engine.cpp: `weight_sum < 0.0001f` -> no reblend


@pytest.fixture(scope="module")
def quantizer() -> BuiltinQuantizer:
    return BuiltinQuantizer()


def _pca_file(tmp_path):
    from mrtd.style.pca import save_pca

    path = tmp_path / "axes.safetensors"
    save_pca(path, [unit(40 + i) for i in range(2)], {})
    return path


def test_an_empty_mix_keeps_the_previous_style_as_the_official_reblend_does(quantizer, tmp_path):
    space = StyleSpace(quantizer)
    space.load_pca(_pca_file(tmp_path))
    space.set_prompt("a", unit(1), weight=1.0)
    space.set_prompt("b", unit(2), weight=0.0)
    space.set_axis(0, 0.3)
    playing_embedding, playing_tokens = (array.copy() for array in space.advance())
    assert (playing_tokens[:6] >= 0).all()

    space.set_weight("a", 0.0)  # every weight 0: the official reblend returns, tokens untouched
    embedding, tokens = space.advance()
    np.testing.assert_array_equal(tokens, playing_tokens)
    np.testing.assert_array_equal(embedding, playing_embedding)
    space.set_axis(1, -0.8)  # a PCA move with nothing active: the official engine never reaches the PCA step
    np.testing.assert_array_equal(space.advance()[1], playing_tokens)
    space.remove_prompt("a")  # no embedding left in the mix at all: the same
    np.testing.assert_array_equal(space.advance()[1], playing_tokens)
    assert space.mix() == {}

    space.set_weight("b", 1.0)  # active again: a new blend, the axis values as they are now
    expected = unit(2) + 0.3 * unit(40) - 0.8 * unit(41)
    embedding, tokens = space.advance()
    np.testing.assert_allclose(embedding, expected, atol=1e-6)
    np.testing.assert_array_equal(tokens, quantizer.quantize(expected.astype(np.float32)))


def test_a_weight_sum_under_the_official_threshold_is_an_empty_mix(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1), weight=1.0)
    space.set_prompt("b", unit(2), weight=0.0)
    _, playing = space.advance()
    playing = playing.copy()
    space.crossfade_to({"a": 0.0, "b": OFFICIAL_MIN_WEIGHT_SUM * 0.5}, 0)
    np.testing.assert_array_equal(space.advance()[1], playing, err_msg="below 1e-4: no reblend")
    space.crossfade_to({"a": 0.0, "b": OFFICIAL_MIN_WEIGHT_SUM * 2}, 0)
    np.testing.assert_array_equal(space.advance()[1], quantizer.quantize(unit(2)), err_msg="above it: b alone")


def test_before_any_style_the_masked_style_is_sent(quantizer):
    """mrtd's documented difference (style/space.py): the official engine sends its baked-in
    codebook ids for "piano" here; mrtd sends the model's own "no style" (every level masked)."""
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1), weight=0.0)
    embedding, tokens = space.advance()
    assert not embedding.any() and list(tokens) == [MASKED] * STYLE_TOKENS
