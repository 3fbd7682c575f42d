"""The output's gain around the step, judged by the official runner's rules, not by mrtd's.

The expected gains are computed here the way magenta-realtime 2.0.3 computes them
(core/include/magentart/realtime_runner.h `ExponentialEnvelope`, ticked per output sample in
core/src/realtime_runner.cpp `read_audio_stereo`, constants from the RealtimeRunner
constructor), in float32 one sample at a time: the MIDI gate attacks over 1,920 samples and
releases over 48,000, keyed on the count of notes down; a reset drops the envelope to 0 and it
attacks over 1,920 samples; the volume is 10^(dB/20) at every dB.

The engine here makes a constant 1.0 in both channels, so what comes out is the gain itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrtd.conditioning import NOTE_ON_MODEL, Conditioning
from mrtd.control.commands import NoteOff, NoteOn, SetParam
from mrtd.engines.base import BaseEngine
from mrtd.frame import FRAME_SAMPLES
from mrtd.runtime.generator import Generator
from style_fakes import builtin_control

OFFICIAL_GATE_ATTACK = 1920.0  # midi_env_.set_attack_samples(1920.0f)
OFFICIAL_GATE_RELEASE = 48000.0  # midi_env_.set_release_samples(48000.0f)
OFFICIAL_RESET_ATTACK = 1920.0  # reset_env_.set_attack_samples(1920.0f)


def _alpha(samples: float) -> np.float32:
    """The official share per sample: 1.0f - std::exp(-4.60517f / samples), in float32."""
    return np.float32(1.0) - np.exp(np.float32(-4.60517) / np.float32(samples), dtype=np.float32)


def official_envelope(start: float, targets: np.ndarray, attack: float, release: float) -> np.ndarray:
    """`ExponentialEnvelope::tick(target)` once per sample: the gain each sample is multiplied by."""
    alpha_attack, alpha_release = _alpha(attack), _alpha(release)
    value = np.float32(start)
    out = np.empty(len(targets), dtype=np.float32)
    for i, target in enumerate(targets.astype(np.float32)):
        alpha = alpha_attack if target > value else alpha_release
        value = np.float32(value + (target - value) * alpha)
        out[i] = value
    return out


class Constant(BaseEngine):
    """1.0 everywhere: the output is the gain."""

    name = "constant"

    def __init__(self) -> None:
        super().__init__()
        self.frame = np.ones((FRAME_SAMPLES, 2), dtype=np.float32)
        self.seen: list[Conditioning] = []

    def _step(self, conditioning: Conditioning) -> np.ndarray:
        self.seen.append(conditioning)
        return self.frame

    def reset(self) -> None:
        pass


@pytest.fixture
def rig():
    engine = Constant()
    control = builtin_control()
    generator = Generator(engine, control)
    for _ in range(3):  # past the first frame's fade-in
        generator.next_frame()
    return generator, control, engine


def _play(generator: Generator, frames: int) -> np.ndarray:
    """`frames` frames, left channel, one after another (both channels carry the same gain)."""
    out = np.concatenate([generator.next_frame().copy() for _ in range(frames)])
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    return out[:, 0]


def _apply(generator: Generator, control, command) -> None:
    control.submit(command)  # due now: applied at the next frame's start


def test_the_midi_gate_closes_over_one_second_and_opens_over_one_frame(rig):
    generator, control, _ = rig
    _apply(generator, control, SetParam("midigate", True))
    closing = _play(generator, 30)  # no note held: the gate releases from open
    expected = official_envelope(1.0, np.zeros(len(closing)), OFFICIAL_GATE_ATTACK, OFFICIAL_GATE_RELEASE)
    np.testing.assert_allclose(closing, expected, atol=2e-4)
    assert closing[48000 - 1] == pytest.approx(0.01, abs=2e-4), "1% left after one second"
    assert closing[FRAME_SAMPLES - 1] > 0.8, "one frame after the gate shut, the chord still rings at 83%"

    _apply(generator, control, NoteOn(60))
    opening = _play(generator, 5)
    expected = official_envelope(closing[-1], np.ones(len(opening)), OFFICIAL_GATE_ATTACK, OFFICIAL_GATE_RELEASE)
    np.testing.assert_allclose(opening, expected, atol=2e-4)
    assert opening[FRAME_SAMPLES - 1] == pytest.approx(0.99, abs=0.003), "99% of the way in 1,920 samples"

    _apply(generator, control, NoteOff(60))
    released = _play(generator, 50)
    expected = official_envelope(opening[-1], np.zeros(len(released)), OFFICIAL_GATE_ATTACK, OFFICIAL_GATE_RELEASE)
    np.testing.assert_allclose(released, expected, atol=2e-4)
    assert released[-1] == 0.0 or released[-1] < 1e-4, "closed after two seconds"


def test_a_latched_onset_reaches_the_model_but_does_not_open_the_gate(rig):
    """The official gate counts notes down (set_note_on/set_note_off), not the tracker's latch."""
    generator, control, engine = rig
    _apply(generator, control, SetParam("midigate", True))
    _play(generator, 100)  # 4 s: closed
    _apply(generator, control, NoteOn(64))
    _apply(generator, control, NoteOff(64))  # released before its frame is made
    heard = _play(generator, 2)
    assert engine.seen[-2].notes[64] == NOTE_ON_MODEL, "the onset is latched into the conditioning"
    assert np.abs(heard).max() < 1e-4, "but no note is held: the gate stays shut"


def test_with_the_gate_off_held_notes_do_not_matter(rig):
    generator, control, _ = rig
    np.testing.assert_array_equal(_play(generator, 2), 1.0)
    _apply(generator, control, NoteOn(60))
    _apply(generator, control, NoteOff(60))
    np.testing.assert_array_equal(_play(generator, 2), 1.0)


def test_a_reset_rises_from_zero_by_the_official_attack(rig):
    """A reset asked for now with a playout ducking ahead: the frame carries only the new
    context, under the official reset envelope (value 0, then attack per sample)."""
    generator, control, _ = rig
    generator.ducks_ahead = True
    control.request_reset(at_once=True)
    rising = _play(generator, 4)
    assert generator.ducked is False  # read per frame: the reset was three frames ago
    expected = official_envelope(0.0, np.ones(len(rising)), OFFICIAL_RESET_ATTACK, OFFICIAL_RESET_ATTACK)
    np.testing.assert_allclose(rising, expected, atol=2e-5)
    assert rising[0] == pytest.approx(float(_alpha(OFFICIAL_RESET_ATTACK)), rel=1e-3), "from 0: one share in"
    assert rising[FRAME_SAMPLES - 1] == pytest.approx(0.99, abs=1e-3)
    assert rising[-1] == 1.0, "settled: the gain is exactly 1 again"


def test_a_timetagged_reset_crosses_the_old_context_s_tail_with_gains_that_sum_to_one(rig):
    """With nothing ducked ahead (a timetagged reset, offline), mrtd's own path (the official
    runner cuts, a click): the old context's last frame backwards fades out linearly while the new
    context rises linearly, complementary, so the level never bumps; settled the frame after."""
    generator, control, _ = rig
    control.request_reset()
    rising = _play(generator, 2)
    ramp = np.arange(1, FRAME_SAMPLES + 1, dtype=np.float32) / FRAME_SAMPLES
    np.testing.assert_allclose(rising[:FRAME_SAMPLES], ramp + (1.0 - ramp), atol=2e-5)  # a constant engine: flat
    assert np.all(rising[FRAME_SAMPLES:] == 1.0), "the frame after plays as made"


@pytest.mark.parametrize("db, gain", [(-60.0, 1e-3), (-20.0, 0.1), (0.0, 1.0), (6.0, 10 ** 0.3)])
def test_volume_is_ten_to_the_db_over_twenty_down_to_minus_sixty(rig, db, gain):
    """The official runner's target gain is pow(10, dB/20) at every dB: -60 dB is 10^-3, not silence."""
    generator, control, _ = rig
    _apply(generator, control, SetParam("volume", db))
    _play(generator, 1)  # the one-frame ramp
    np.testing.assert_allclose(_play(generator, 1), gain, rtol=1e-6)
    _apply(generator, control, SetParam("mute", True))
    _play(generator, 1)
    np.testing.assert_array_equal(_play(generator, 1), 0.0)
