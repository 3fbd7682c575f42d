"""StyleSpace: blends, re-quantizing only on change, prompts still encoding, surfaces, axes, raw input."""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.conditioning import EMBEDDING_DIM, MASKED, STYLE_TOKENS
from mrtd.style.pca import save_pca
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import PromptInfo, StyleSpace
from style_fakes import unit


@pytest.fixture(scope="module")
def quantizer() -> BuiltinQuantizer:
    return BuiltinQuantizer()


def test_no_prompts_gives_zero_embedding_and_all_masked_tokens(quantizer):
    space = StyleSpace(quantizer)
    embedding, tokens = space.advance()
    assert embedding.shape == (EMBEDDING_DIM,) and embedding.dtype == np.float32 and not embedding.any()
    assert tokens.shape == (STYLE_TOKENS,) and tokens.dtype == np.int32 and (tokens == MASKED).all()
    space.set_prompt("a", unit(1), weight=0.0)
    embedding, tokens = space.advance()
    assert not embedding.any() and (tokens == MASKED).all()
    assert space.quantize_count == 0


def test_linear_blend_is_the_normalised_weighted_sum_like_the_official_engine(quantizer):
    space = StyleSpace(quantizer)
    a, b = unit(1), unit(2)
    space.set_prompt("a", a, weight=3.0)
    space.set_prompt("b", b, weight=1.0)
    embedding, tokens = space.advance()
    np.testing.assert_allclose(embedding, 0.75 * a + 0.25 * b, atol=1e-6)
    assert space.mix() == pytest.approx({"a": 0.75, "b": 0.25})
    assert space.weights() == {"a": 3.0, "b": 1.0}
    np.testing.assert_array_equal(tokens, quantizer.quantize(embedding.copy()))
    assert (tokens[6:] == MASKED).all() and (tokens[:6] >= 0).all()


def test_renormalize_option_puts_the_blend_back_on_the_unit_sphere(quantizer):
    space = StyleSpace(quantizer, renormalize=True)
    space.set_prompt("a", unit(1))
    space.set_prompt("b", unit(2))
    embedding, _ = space.advance()
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-6)


def test_any_number_of_prompts(quantizer):
    space = StyleSpace(quantizer)
    for i in range(40):
        space.set_prompt(f"p{i}", unit(i), weight=1.0)
    embedding, _ = space.advance()
    np.testing.assert_allclose(embedding, np.mean([unit(i) for i in range(40)], axis=0), atol=1e-5)
    assert sum(space.mix().values()) == pytest.approx(1.0)


def test_slerp_of_two_prompts_is_exactly_slerp_and_stays_unit_length(quantizer):
    space = StyleSpace(quantizer, blend="slerp")
    a, b = unit(1).astype(np.float64), unit(2).astype(np.float64)
    space.set_prompt("a", a, weight=0.7)
    space.set_prompt("b", b, weight=0.3)
    embedding, _ = space.advance()
    angle = np.arccos(a @ b)
    expected = (np.sin(0.7 * angle) * a + np.sin(0.3 * angle) * b) / np.sin(angle)
    np.testing.assert_allclose(embedding, expected, atol=1e-5)
    for count in (3, 5):
        many = StyleSpace(quantizer, blend="slerp")
        for i in range(count):
            many.set_prompt(f"p{i}", unit(10 + i), weight=i + 1.0)
        assert np.linalg.norm(many.advance()[0]) == pytest.approx(1.0, abs=1e-5)


def test_tokens_are_recomputed_only_when_the_blend_changes(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1), weight=1.0)
    space.set_prompt("b", unit(2), weight=0.0)
    space.advance()
    assert space.quantize_count == 1
    for _ in range(50):
        space.advance()
    assert space.quantize_count == 1, "a steady blend is quantized once"
    space.set_weight("a", 5.0)  # same normalised mix: same embedding, no new tokens
    space.advance()
    assert space.quantize_count == 1
    space.crossfade_to({"b": 1.0}, 10)
    for _ in range(10):
        space.advance()
    assert space.quantize_count == 11, "a fade re-quantizes once per frame"
    for _ in range(10):
        space.advance()
    assert space.quantize_count == 11
    space.set_prompt("a", unit(1), weight=0.5)
    space.set_prompt("b", unit(2), weight=0.5)
    space.set_weight("a", 0.6)  # several changes between two frames: one quantize
    space.advance()
    assert space.quantize_count == 12


def test_a_prompt_still_encoding_does_not_stall_and_its_weight_applies_once_ready(quantizer):
    space = StyleSpace(quantizer)
    a, b = unit(1), unit(2)
    space.set_prompt("a", a, weight=1.0)
    space.set_prompt("b", None, weight=3.0)  # still encoding
    assert space.prompts()["b"] == PromptInfo(False, 3.0, None)
    for _ in range(5):
        embedding, _ = space.advance()
        np.testing.assert_allclose(embedding, a, atol=1e-6)
    assert space.mix() == {"a": 1.0}
    assert space.weights() == {"a": 1.0, "b": 3.0}
    space.set_embedding("b", b)
    embedding, _ = space.advance()
    np.testing.assert_allclose(embedding, 0.25 * a + 0.75 * b, atol=1e-6)
    assert space.prompts()["b"].ready


def test_re_prompting_keeps_the_old_embedding_until_the_new_one_arrives(quantizer):
    space = StyleSpace(quantizer)
    old, new = unit(1), unit(2)
    space.set_prompt("a", old)
    space.set_prompt("a", None)
    np.testing.assert_allclose(space.advance()[0], old, atol=1e-6)
    space.set_embedding("a", new)
    np.testing.assert_allclose(space.advance()[0], new, atol=1e-6)


def test_new_prompts_default_to_weight_one_and_existing_weights_are_kept(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1))
    assert space.weights() == {"a": 1.0}
    space.set_weight("a", 0.3)
    space.set_prompt("a", unit(2))
    assert space.weights() == {"a": 0.3}


def test_removing_prompts_and_unknown_names(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1))
    space.set_prompt("b", unit(2))
    space.remove_prompt("a")
    np.testing.assert_allclose(space.advance()[0], unit(2), atol=1e-6)
    assert list(space.prompts()) == ["b"]
    with pytest.raises(KeyError):
        space.remove_prompt("a")
    with pytest.raises(KeyError):
        space.set_weight("a", 1.0)
    with pytest.raises(KeyError):
        space.set_embedding("a", unit(1))
    space.set_prompt("c", unit(3))  # reuses the freed slot
    assert set(space.mix()) == {"b", "c"}


def test_bad_input_is_refused(quantizer):
    space = StyleSpace(quantizer)
    with pytest.raises(ValueError, match="shape"):
        space.set_prompt("a", np.zeros(10))
    with pytest.raises(ValueError, match="finite"):
        space.set_prompt("a", np.full(EMBEDDING_DIM, np.nan))
    space.set_prompt("a", unit(1))
    with pytest.raises(ValueError, match="weight"):
        space.set_weight("a", -1.0)
    with pytest.raises(ValueError):
        space.set_raw_tokens(np.arange(5))
    with pytest.raises(ValueError):
        space.set_raw_tokens(np.full(12, 1024))
    with pytest.raises(ValueError):
        StyleSpace(quantizer, blend="cubic")


def test_idw_weights_sum_to_one_and_a_prompt_gets_weight_one_at_its_own_position(quantizer):
    space = StyleSpace(quantizer)
    positions = {"ne": (1.0, 1.0), "nw": (-1.0, 1.0), "s": (0.0, -1.0), "far": (5.0, 5.0)}
    for i, (name, position) in enumerate(positions.items()):
        space.set_prompt(name, unit(i), weight=0.0, position=position)
    space.set_prompt("off-surface", unit(9), weight=1.0)
    for x, y in [(0.0, 0.0), (0.3, -0.7), (2.0, 3.0), (-4.0, 0.5)]:
        space.set_xy(x, y)
        weights = space.weights()
        on_surface = {n: weights[n] for n in positions}
        assert sum(on_surface.values()) == pytest.approx(1.0)
        assert weights["off-surface"] == 0.0
        distances = {n: np.hypot(x - px, y - py) for n, (px, py) in positions.items()}
        nearest = min(distances, key=distances.get)
        assert max(on_surface, key=on_surface.get) == nearest
        # w_i proportional to d_i^-2 (the default power)
        ratio = on_surface["ne"] / on_surface["s"]
        assert ratio == pytest.approx((distances["s"] / distances["ne"]) ** 2)
    for name, (x, y) in positions.items():
        space.set_xy(x, y)
        assert space.weights()[name] == 1.0
        assert sum(space.weights().values()) == 1.0
        np.testing.assert_allclose(space.advance()[0], unit(list(positions).index(name)), atol=1e-6)


def test_idw_power_is_configurable(quantizer):
    space = StyleSpace(quantizer, idw_power=1.0)
    space.set_prompt("a", unit(1), position=(0.0, 0.0))
    space.set_prompt("b", unit(2), position=(3.0, 0.0))
    space.set_xy(1.0, 0.0)
    assert space.weights() == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    space.set_surface_position("b", 2.0, 0.0)
    space.set_xy(1.0, 0.0)
    assert space.weights() == pytest.approx({"a": 0.5, "b": 0.5})
    assert space.prompts()["b"].position == (2.0, 0.0)


def test_set_xy_without_positions_is_an_error(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1))
    with pytest.raises(ValueError, match="position"):
        space.set_xy(0, 0)


def test_prompt_to_prompt_axis_adds_a_signed_offset(quantizer):
    space = StyleSpace(quantizer)
    dark, bright = unit(1), unit(2)
    space.set_prompt("dark", dark, weight=1.0)
    space.set_prompt("bright", bright, weight=0.0)
    space.define_axis("brightness", "dark", "bright")
    space.set_axis("brightness", 0.5)
    embedding, _ = space.advance()
    direction = (bright - dark) / np.linalg.norm(bright - dark)
    np.testing.assert_allclose(embedding, dark + 0.5 * direction, atol=1e-6)
    space.set_axis("brightness", -0.25)
    np.testing.assert_allclose(space.advance()[0], dark - 0.25 * direction, atol=1e-6)
    with pytest.raises(KeyError):
        space.define_axis("x", "dark", "missing")
    with pytest.raises(KeyError):
        space.set_axis("missing", 1.0)


def test_pca_axes_and_centroid_prompts(tmp_path, quantizer):
    components = [np.eye(EMBEDDING_DIM, dtype=np.float32)[i] for i in range(6)]
    path = tmp_path / "style.safetensors"
    save_pca(path, components, {"Techno": unit(5), "ambient": unit(6)})
    space = StyleSpace(quantizer)
    names = space.load_pca(path)
    assert names == ["0", "1", "2", "3", "4", "5", "techno", "ambient"]
    assert space.weights() == {"techno": 0.0, "ambient": 0.0}, "centroids arrive silent"
    space.set_weight("techno", 1.0)
    space.set_axis(2, 0.3)
    space.set_axis("4", -0.1)
    embedding, _ = space.advance()
    expected = unit(5).copy()
    expected[2] += 0.3
    expected[4] -= 0.1
    np.testing.assert_allclose(embedding, expected, atol=1e-6)
    assert space.axis_values()["2"] == pytest.approx(0.3)
    with pytest.raises(IndexError):
        space.set_axis(6, 1.0)


def test_pca_axis_before_loading_is_a_clear_error(quantizer):
    with pytest.raises(IndexError, match="no PCA file loaded"):
        StyleSpace(quantizer).set_axis(0, 1.0)


def test_raw_embedding_and_raw_tokens_override_while_set(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1))
    blended, blended_tokens = (array.copy() for array in space.advance())
    raw = unit(7)
    space.set_raw_embedding(raw)
    embedding, tokens = space.advance()
    np.testing.assert_allclose(embedding, raw)
    np.testing.assert_array_equal(tokens, quantizer.quantize(raw.copy()))
    raw_tokens = np.array([5, 6, 7, 8, 9, 10, -1, -1, -1, -1, -1, 3])
    space.set_raw_tokens(raw_tokens)
    count = space.quantize_count
    embedding, tokens = space.advance()
    sent = raw_tokens.copy()
    sent[6:] = -1  # the official engine sends levels 0-5 only, raw tokens included
    np.testing.assert_array_equal(tokens, sent)
    np.testing.assert_allclose(embedding, raw)
    space.set_raw_embedding(None)
    space.set_raw_tokens(None)
    embedding, tokens = space.advance()
    np.testing.assert_allclose(embedding, blended)
    np.testing.assert_array_equal(tokens, blended_tokens)
    assert space.quantize_count == count + 1


def test_returned_arrays_are_read_only_and_reused(quantizer):
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1))
    embedding, tokens = space.advance()
    with pytest.raises(ValueError):
        embedding[0] = 1.0
    with pytest.raises(ValueError):
        tokens[0] = 1
    again, _ = space.advance()
    assert np.shares_memory(embedding, again)


def test_active_levels_is_configurable(quantizer):
    space = StyleSpace(BuiltinQuantizer(active_levels=12))
    space.set_prompt("a", unit(1))
    _, tokens = space.advance()
    assert (tokens >= 0).all()
