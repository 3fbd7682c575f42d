"""Solo mode judged by the Jam app's rules (magenta-realtime 2.0.3, examples/jam), not by mrtd's.

The expected values are computed here the way the Jam app computes them in its render block
(JamApp.mm `setupAudioEngine`): per sample, the gate is 1 while any note is held and otherwise
falls by 1 / (48000 * 2 s), never below 0, starting open; per callback, the notes guidance is the
player's value while a note is held and otherwise climbs by (50 - value) / (48000 * 2 s) per
sample toward 50 (starting at 50); the exported step clamps guidance to [-1, 7]. The app's other
parts: prompts go to MusicCoCa as "SOLO " + text (ui/src/App.tsx `sendPrompt`) and the mode
switch sets unmask width 127, or 0 for Accompany (App.tsx `handleModeChange`).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import probed_daemon, wait_for
from mrtd.conditioning import EMBEDDING_DIM
from mrtd.control.commands import NoteOff, NoteOn, SetParam
from mrtd.frame import FRAME_SAMPLES
from mrtd.runtime.generator import Generator
from mrtd.style.embedder import BuiltinEmbedder
from style_fakes import CountingEmbedder, builtin_control
from test_gain_official_rules import Constant, rig  # noqa: F401 (rig: the same generator rig, a fixture)

JAM_SAMPLE_RATE = 48000.0
JAM_DECAY_S = 2.0  # _gateDecaySeconds.store(2.0f)
JAM_TARGET = 50.0  # targetVal
JAM_BLOCK = 64  # the Jam app asks for 64-frame device buffers


def jam_gate(start: float, held: np.ndarray) -> np.ndarray:
    """The Jam gate, one sample at a time (float64: the rule, without float32's drift)."""
    step = 1.0 / (JAM_SAMPLE_RATE * JAM_DECAY_S)
    gate, out = start, np.empty(len(held))
    for i, note in enumerate(held):
        gate = 1.0 if note else max(gate - step, 0.0)
        out[i] = gate
    return out


def jam_notes_guidance(start: float, slider: float, held_per_block: list[bool]) -> list[float]:
    """The Jam guidance after each 64-sample callback, clamped as the exported step clamps it."""
    level, out = start, []
    for held in held_per_block:
        ramp = (JAM_TARGET - slider) / (JAM_SAMPLE_RATE * JAM_DECAY_S)
        if held:
            level = slider
        elif level < JAM_TARGET:
            level = min(level + ramp * JAM_BLOCK, JAM_TARGET)
        out.append(min(max(level, -1.0), 7.0))
    return out


class TextsSeen(CountingEmbedder):
    """Notes every text it is given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_text(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return super().embed_text(text)


def _play(generator: Generator, frames: int) -> np.ndarray:
    return np.concatenate([generator.next_frame()[:, 0].copy() for _ in range(frames)])


def test_the_gate_opens_at_once_and_falls_in_a_straight_line_over_two_seconds(rig):
    generator, control, _engine = rig
    control.submit(SetParam("solo", True))
    control.submit(NoteOn(60, 100))
    held = _play(generator, 2)
    np.testing.assert_array_equal(held, 1.0)  # a held note: open
    control.submit(NoteOff(60))
    released = _play(generator, 55)  # 2.2 s: past the fall
    expected = jam_gate(1.0, np.zeros(len(released), dtype=bool))
    np.testing.assert_allclose(released, expected, atol=1e-6)
    assert released[FRAME_SAMPLES * 25 - 1] == pytest.approx(0.5, abs=1e-6)  # half way at 1 s
    assert np.all(released[96000:] == 0.0) and released[95998] > 0.0  # silent from 2 s on
    control.submit(NoteOn(62, 90))
    np.testing.assert_array_equal(_play(generator, 1), 1.0)  # open again at once, not ramped


def test_accompany_leaves_the_output_alone(rig):
    generator, control, _engine = rig
    control.submit(NoteOn(60, 100))
    _play(generator, 1)
    control.submit(NoteOff(60))
    np.testing.assert_array_equal(_play(generator, 60), 1.0)  # solo off: no gate


def test_the_notes_guidance_climbs_after_a_release_as_the_jam_app_moves_it(rig):
    generator, control, engine = rig
    control.submit(SetParam("cfg_notes", 2.4))
    control.submit(SetParam("solo", True))
    control.submit(NoteOn(60, 100))
    _play(generator, 2)
    assert engine.seen[-1].cfg_notes == pytest.approx(2.4)  # held: the player's value
    control.submit(NoteOff(60))
    _play(generator, 10)
    blocks_per_frame = FRAME_SAMPLES // JAM_BLOCK
    official = jam_notes_guidance(2.4, 2.4, [False] * (10 * blocks_per_frame))[blocks_per_frame - 1 :: blocks_per_frame]
    sent = [c.cfg_notes for c in engine.seen[-10:]]
    assert sent == pytest.approx(official, abs=1e-9)
    assert sent[3] < 7.0 and sent[4] == 7.0  # 2.4 + 0.952 k (47.6 / 50 a frame) passes 7 in the fifth frame
    control.submit(SetParam("solo", False))
    _play(generator, 1)
    assert engine.seen[-1].cfg_notes == pytest.approx(2.4)  # Accompany: the player's value


def test_the_switch_sets_the_unmask_width_and_solo_prompts_are_encoded_as_solo_text(tmp_path):
    embedder = TextsSeen()
    with probed_daemon(tmp_path) as (daemon, _engine, probe):
        daemon.encoder.embedder = embedder  # what MusicCoCa is given, text by text
        probe.send("/mrt/prompt", "lead", "warm analog synth")
        wait_for(lambda: "warm analog synth" in embedder.texts, 5, "the text as it is")
        probe.send("/mrt/solo", 1)
        wait_for(lambda: daemon.control.values["solo"] and daemon.control.values["unmask"] == 127, 5, "solo, unmask 127")
        wait_for(lambda: "SOLO warm analog synth" in embedder.texts, 5, "the prompt encoded again with the prefix")
        probe.send("/mrt/prompt", "bass", "deep bass")
        wait_for(lambda: "SOLO deep bass" in embedder.texts, 5, "a new prompt in Solo")
        probe.send("/mrt/solo", 0)
        wait_for(lambda: not daemon.control.values["solo"] and daemon.control.values["unmask"] == 0, 5, "accompany, unmask 0")
        wait_for(lambda: embedder.texts.count("deep bass") == 1, 5, "encoded again without the prefix")


def test_in_solo_a_scenes_text_prompts_are_solo_text_too_and_its_given_embeddings_are_left_alone(tmp_path):
    """The Jam app sends every prompt as 'SOLO text' in Solo: a scene's text prompts too, on the
    switch and when a scene loads in Solo (encoded so from its first frame); a scene's given
    embedding is no text, and stays as given."""
    words = BuiltinEmbedder()
    folder = tmp_path / "scenes"
    folder.mkdir()
    given = np.linspace(-0.05, 0.05, EMBEDDING_DIM).round(4).tolist()
    (folder / "pads.yaml").write_text(f"name: pads\nprompts:\n  lead: {{text: warm pads, weight: 1}}\n  given: {{embedding: {given}}}\n")
    (folder / "bass.yaml").write_text("name: bass\nprompts:\n  bass: {text: deep bass, weight: 1}\n")
    with probed_daemon(tmp_path, scene=str(folder / "pads.yaml")) as (daemon, _engine, probe):
        style = daemon.control.style

        def encoded_as(name: str, text: str) -> bool:
            embedding = style.embedding_of(name) if daemon.control.has_prompt(name) else None
            return embedding is not None and np.allclose(embedding, words.embed_text(text), atol=1e-6)

        wait_for(lambda: encoded_as("lead", "warm pads"), 10, "the scene, its words as written")
        before = style.embedding_of("given")
        probe.send("/mrt/solo", 1)
        wait_for(lambda: encoded_as("lead", "SOLO warm pads"), 5, "the scene's text prompt as SOLO text")
        np.testing.assert_array_equal(style.embedding_of("given"), before)
        daemon.scenes.load(folder / "bass.yaml")
        wait_for(lambda: daemon.control.has_prompt("bass"), 5, "the scene loaded in Solo")
        assert encoded_as("bass", "SOLO deep bass"), "SOLO text from its first frame"
        probe.send("/mrt/solo", 0)
        wait_for(lambda: encoded_as("bass", "deep bass"), 5, "its words again after Solo")
        # Loaded (encoded) before a switch, installed after it: encoded again once it plays.
        daemon.scenes.load(folder / "pads.yaml", due=time.time() + 0.5)
        probe.send("/mrt/solo", 1)
        wait_for(lambda: encoded_as("lead", "SOLO warm pads"), 5, "a scene encoded before the switch, as SOLO text")
