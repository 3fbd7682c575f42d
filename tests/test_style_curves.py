"""Crossfades: each curve follows its formula, and a new fade starts where the old one is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mrtd.style.curves import EXPONENTIAL_K, Crossfade, beats_to_frames, curve_gains, curve_name, seconds_to_frames
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import StyleSpace
from style_fakes import unit


@pytest.fixture(scope="module")
def quantizer() -> BuiltinQuantizer:
    return BuiltinQuantizer()


def two_prompt_space(quantizer) -> StyleSpace:
    space = StyleSpace(quantizer)
    space.set_prompt("a", unit(1), weight=1.0)
    space.set_prompt("b", unit(2), weight=0.0)
    space.advance()
    return space


# The formulas as written in mrtd.style.curves' docstring, w(t) = g_from * w_from + g_to * w_to.
FORMULAS = {
    "linear": lambda t: (1 - t, t),
    "equal-power": lambda t: (math.cos(math.pi * t / 2), math.sin(math.pi * t / 2)),
    "exponential": lambda t: (
        1 - (math.exp(EXPONENTIAL_K * t) - 1) / (math.exp(EXPONENTIAL_K) - 1),
        (math.exp(EXPONENTIAL_K * t) - 1) / (math.exp(EXPONENTIAL_K) - 1),
    ),
    "s-curve": lambda t: (1 - (3 * t**2 - 2 * t**3), 3 * t**2 - 2 * t**3),
}


@pytest.mark.parametrize("curve", list(FORMULAS))
def test_crossfade_weights_follow_the_curve_formula_at_sampled_frames(quantizer, curve):
    space = two_prompt_space(quantizer)
    frames = 20
    space.crossfade_to({"b": 1.0}, frames, curve)
    assert space.weights() == {"a": 1.0, "b": 0.0}, "nothing moves before the next frame"
    for frame in range(1, frames + 1):
        space.advance()
        if frame in (1, 5, 10, 13, 19):
            gain_from, gain_to = FORMULAS[curve](frame / frames)
            weights = space.weights()
            assert weights["a"] == pytest.approx(gain_from, abs=1e-12), f"{curve} frame {frame}"
            assert weights["b"] == pytest.approx(gain_to, abs=1e-12), f"{curve} frame {frame}"
    assert space.weights() == {"a": 0.0, "b": 1.0}, "the fade lands exactly on its target"
    assert not space.crossfading


def test_curves_have_the_shapes_their_names_promise():
    # exponential starts slow, s-curve is gentle at both ends, equal-power keeps g_from^2 + g_to^2 = 1.
    assert curve_gains("exponential", 0.5)[1] < 0.5 * curve_gains("linear", 0.5)[1]
    assert curve_gains("s-curve", 0.1)[1] < 0.1 and curve_gains("s-curve", 0.9)[1] > 0.9
    for t in np.linspace(0, 1, 11):
        assert sum(g * g for g in curve_gains("equal-power", t)) == pytest.approx(1.0)
    for curve in FORMULAS:
        assert curve_gains(curve, 0.0) == pytest.approx((1.0, 0.0))
        assert curve_gains(curve, 1.0) == pytest.approx((0.0, 1.0))


def test_curve_names_accept_aliases_and_refuse_unknown_ones():
    assert curve_name("Equal_Power") == "equal-power"
    assert curve_name("exp") == "exponential"
    assert curve_name("scurve") == "s-curve"
    with pytest.raises(ValueError, match="unknown crossfade curve 'wobble'"):
        curve_name("wobble")


@pytest.mark.parametrize("second_curve", ["linear", "equal-power", "s-curve"])
def test_an_interrupted_crossfade_continues_without_a_jump(quantizer, second_curve):
    space = two_prompt_space(quantizer)
    space.set_prompt("c", unit(3), weight=0.0)
    space.crossfade_to({"b": 1.0}, 20, "equal-power")
    for _ in range(7):
        space.advance()
    before = space.weights()
    mix_before = space.mix()
    space.crossfade_to({"c": 1.0}, 10, second_curve)
    assert space.weights() == before, "starting a fade changes nothing until the next frame"
    previous = before
    largest_step = 0.0
    for _ in range(10):
        space.advance()
        weights = space.weights()
        largest_step = max(largest_step, max(abs(weights[n] - previous[n]) for n in weights))
        previous = weights
    # One frame of a 10-frame fade moves a weight by at most ~pi/2/10 (equal-power's steepest slope).
    assert largest_step < 0.17
    assert space.weights() == {"a": 0.0, "b": 0.0, "c": 1.0}
    # And the very first frame of the new fade is close to where the old one was.
    space2 = two_prompt_space(quantizer)
    space2.set_prompt("c", unit(3), weight=0.0)
    space2.crossfade_to({"b": 1.0}, 20, "equal-power")
    for _ in range(7):
        space2.advance()
    space2.crossfade_to({"c": 1.0}, 10, second_curve)
    space2.advance()
    first = space2.mix()
    assert max(abs(first.get(n, 0.0) - mix_before.get(n, 0.0)) for n in ("a", "b", "c")) < 0.17


def test_a_weight_set_mid_fade_stops_the_fade_where_it_is(quantizer):
    space = two_prompt_space(quantizer)
    space.crossfade_to({"b": 1.0}, 10)
    for _ in range(4):
        space.advance()
    space.set_weight("b", 0.9)
    assert not space.crossfading
    assert space.weights() == pytest.approx({"a": 0.6, "b": 0.9})
    for _ in range(5):
        space.advance()
    assert space.weights() == pytest.approx({"a": 0.6, "b": 0.9})


def test_zero_frames_jumps_and_absent_prompts_go_to_zero(quantizer):
    space = two_prompt_space(quantizer)
    space.crossfade_to({"b": 0.5}, 0)
    assert space.weights() == {"a": 0.0, "b": 0.5}
    assert space.mix() == {"b": 1.0}


def test_crossfade_to_unknown_prompt_changes_nothing(quantizer):
    space = two_prompt_space(quantizer)
    with pytest.raises(KeyError, match="nope"):
        space.crossfade_to({"b": 1.0, "nope": 1.0}, 10)
    assert not space.crossfading and space.weights() == {"a": 1.0, "b": 0.0}


def test_crossfade_object_evaluates_any_frame():
    fade = Crossfade(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 4, "linear")
    out = np.zeros(2)
    assert list(fade.weights_at(2, out)) == [0.5, 0.5]
    for _ in range(4):
        fade.step(out)
    assert fade.done and list(out) == [0.0, 1.0]
    with pytest.raises(ValueError):
        Crossfade(np.zeros(2), np.zeros(2), 0)


def test_durations_in_seconds_and_beats():
    assert seconds_to_frames(2.0) == 50
    assert seconds_to_frames(0) == 0
    assert beats_to_frames(4, 120) == 50  # one 4/4 bar at 120 BPM is 2 s
    with pytest.raises(ValueError):
        seconds_to_frames(-1)
