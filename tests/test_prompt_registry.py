"""One registry of prompt names: the names a client is shown (/mrt/prompts) and the names in the
style space's blend are changed together, by the control state's define_prompt/clear_prompt, from
OSC commands, a scene change and a journal restore alike, so they cannot disagree."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mrtd.core.journal import MusicState
from mrtd.core.music import Resume, embeddings_of
from mrtd.control import commands as c
from mrtd.control.state import MAX_PROMPTS, ControlState
from mrtd.feedback import snapshot
from mrtd.core.scene.loader import load_scene
from mrtd.core.scene.player import ScenePlayer, prepare_scene
from mrtd.style.embedder import BuiltinEmbedder
from mrtd.vocabulary.codec import ROOT
from style_fakes import builtin_control

EMBEDDER = BuiltinEmbedder()
SCENE = "prompts: {rain: soft rain, bells: distant bells}\ncues:\n  - {name: intro, at: 0, mix: {rain: 1, bells: 1}}\n"


def _player(tmp_path: Path) -> ScenePlayer:
    path = tmp_path / "set.yaml"
    path.write_text(SCENE)
    return ScenePlayer(prepare_scene(load_scene(path), path, EMBEDDER.embed_text))


def _shown(state: ControlState) -> list[str]:
    """The prompt names this frame's push shows a client (empty when nothing about them changed)."""
    pushed = snapshot.messages(state, state.take_changes())
    return pushed.get(f"{ROOT}/prompts", [])[::2]


def _in_blend(state: ControlState) -> list[str]:
    return sorted(state.style.prompts())


def test_a_prompt_a_scene_change_clears_leaves_the_feedback_and_the_blend_in_the_same_frame(tmp_path):
    state, player = builtin_control(), _player(tmp_path)
    player.install(state, 0)
    state.submit(c.DefinePrompt("sea", "waves on shingle", EMBEDDER.embed_text("waves on shingle"), 1.0))
    state.begin_frame(1)
    assert _shown(state) == _in_blend(state) == ["bells", "rain", "sea"]
    assert "sea" in state.style.mix()

    state.begin_frame(2)
    player.install(state, 2)  # the same scene again: only its own prompts stay
    state.frame_conditioning()
    assert _shown(state) == _in_blend(state) == ["bells", "rain"], "gone from the feedback and the blend at once"
    assert "sea" not in state.style.mix()


def test_a_journal_restore_defines_its_prompts_through_the_same_path_and_limit(caplog):
    too_many = {f"p{i:02d}": f"text {i}" for i in range(MAX_PROMPTS + 1)}
    state = builtin_control()
    with caplog.at_level(logging.WARNING):
        music = MusicState(prompts=too_many)
        state.apply_now(Resume(music, embeddings_of(music, EMBEDDER.embed_text)))
    assert dict(state.prompt_texts) == {n: t for n, t in too_many.items() if n != f"p{MAX_PROMPTS:02d}"}
    assert sorted(state.prompt_texts) == _in_blend(state), "restored into the registry and the blend together"
    assert [r.getMessage() for r in caplog.records] == [
        f"journal: prompt p{MAX_PROMPTS:02d} not restored: {MAX_PROMPTS} prompts already; clear one first"]
    assert _shown(state) == sorted(state.prompt_texts)


def test_an_osc_clear_takes_the_prompt_out_of_both_and_a_late_encoding_brings_nothing_back():
    state = builtin_control()
    state.apply_now(c.DefinePrompt("sea", "waves", None, 1.0))  # still encoding
    state.apply_now(c.ClearPrompt("sea"))
    state.apply_now(c.PromptReady("sea", EMBEDDER.embed_text("waves")))
    assert dict(state.prompt_texts) == {} and _in_blend(state) == []


def test_past_the_limit_neither_the_names_nor_the_blend_grow():
    state = builtin_control()
    for i in range(MAX_PROMPTS):
        state.define_prompt(f"p{i}", "x", None)
    with pytest.raises(ValueError, match=f"{MAX_PROMPTS} prompts already"):
        state.apply_now(c.DefinePrompt("one more", "x", None, 1.0))
    assert len(state.prompt_texts) == len(state.style.prompts()) == MAX_PROMPTS


def test_the_names_cannot_be_written_around_the_registry():
    state = builtin_control()
    with pytest.raises(TypeError):
        state.prompt_texts["sea"] = "waves"  # type: ignore[index]
