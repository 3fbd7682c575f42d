"""The state journal, typed and versioned: every field it keeps comes back, old journals are read,
unusable ones are refused with one line (the process that restarts from it is in test_restart.py)."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from mrtd.core.journal import MAX_JOURNAL_BYTES, Journal, JournalError, MusicState, fit_to_scene, read
from mrtd.core.music import capture, embeddings_of, restore
from mrtd.control.state import ControlState
from mrtd.core.scene.loader import load_scene
from mrtd.core.scene.player import ScenePlayer, prepare_scene
from mrtd.style.embedder import BuiltinEmbedder
from conftest import running_daemon, wait_for
from style_fakes import builtin_control

SCENE = (
    "tempo: 100\n"
    "prompts: {rain: soft rain, bells: distant bells, drone: low drone}\n"
    "axes: {weather: {from: rain, to: bells}}\n"
    "cues:\n"
    "  - {name: intro, at: 0, mix: {rain: 1}}\n"
    "  - {name: verse, at: 2, mix: {bells: 1}, fade: {seconds: 6, curve: equal-power}}\n"
    "  - {name: outro, at: 20, mix: {drone: 1}}\n"
)
EMBEDDER = BuiltinEmbedder()


def _player(tmp_path: Path) -> ScenePlayer:
    path = tmp_path / "set.yaml"
    path.write_text(SCENE)
    return ScenePlayer(prepare_scene(load_scene(path), path, EMBEDDER.embed_text))


def _play(state: ControlState, player: ScenePlayer, frames: range) -> None:
    for frame in frames:
        state.begin_frame(frame)
        cue, _hours = player.due(frame)  # what the scene host applies as a FireCue
        if cue is not None:
            player.fire(state, cue)
        state.frame_conditioning()  # advances the style space, as the generator does


def _playing(tmp_path: Path) -> tuple[ControlState, ScenePlayer]:
    """A scene 3 s in (the verse's 6 s fade under way) with settings, an OSC prompt, an axis, xy."""
    state, player = builtin_control(), _player(tmp_path)
    player.install(state, 0)
    _play(state, player, range(0, 75))
    state.set("temperature", 1.4)
    state.set("cfg_notes", 5.0)
    state.set("volume", -9.0)
    state.set("tempo", 132.0)
    state.define_prompt("sea", "waves on shingle", EMBEDDER.embed_text("waves on shingle"), weight=0.0)
    state.style.set_axis("weather", 0.25)
    state.axes["weather"] = 0.25
    state.xy = (0.2, 0.7)
    return state, player


def _restart(tmp_path: Path, music: MusicState, at: int) -> tuple[ControlState, ScenePlayer]:
    """What the daemon does on start: install the journaled scene, then the resume action, one frame."""
    state, player = builtin_control(), _player(tmp_path)
    state.begin_frame(at)
    player.install(state, at, position=music.scene_frames)
    restore(state, music, embeddings_of(music, EMBEDDER.embed_text), player.stand_on)
    return state, player


def test_what_was_playing_is_what_comes_back(tmp_path):
    state, player = _playing(tmp_path)
    before = capture(state, tmp_path / "set.yaml", player.position(state.frame))
    assert before.cue == "verse" and before.scene_frames == 74
    assert before.fade is not None and before.fade.curve == "equal-power" and before.fade.frames_left == 150 - 25

    journal = Journal(tmp_path / "state" / "journal.json")
    journal.offer(before)
    assert journal.flush()
    music = read(journal.path)
    assert music == before, "the journal file holds every field"

    restarted, player2 = _restart(tmp_path, music, at=5000)  # a restart: the frame counter starts elsewhere
    after = capture(restarted, tmp_path / "set.yaml", player2.position(restarted.frame))
    assert after.params.pop("volume") == -60.0, "it fades in from silence"
    assert after.model_dump() == {**before.model_dump(), "params": {k: v for k, v in before.params.items() if k != "volume"}}
    assert restarted.style.crossfading, "the fade under way goes on"


def test_prompts_journaled_in_solo_come_back_as_solo_text_and_leave_it_with_solo(tmp_path):
    """Solo encodes text prompts as 'SOLO text': a restart in Solo brings them back so from its
    first frame, not as the words alone."""
    state, player = _playing(tmp_path)
    state.set("solo", True)
    restarted, _ = _restart(tmp_path, capture(state, tmp_path / "set.yaml", player.position(state.frame)), at=5000)
    assert restarted.values["solo"]
    np.testing.assert_allclose(restarted.style.embedding_of("sea"), EMBEDDER.embed_text("SOLO waves on shingle"), atol=1e-6)
    assert restarted.worded_texts()["sea"] == "waves on shingle", "a Solo switch encodes it again, as words"


def test_the_cue_list_carries_on_from_its_place(tmp_path):
    """Cues passed are not fired again; the next one fires when it would have without the restart."""
    state, player = _playing(tmp_path)
    music = capture(state, None, player.position(state.frame))
    restarted, player2 = _restart(tmp_path, music, at=5000)
    assert not player2.fired, "installing where the journal says fires nothing"
    _play(restarted, player2, range(5001, 5000 + 500))
    fired = [(frame - 5000, cue) for frame, cue in player2.fired]
    assert fired == [(500 - 74, "outro")], "the outro at 20 s, 17 s after the restart at 3 s; nothing replayed"
    assert restarted.cue == "outro"


def test_writes_only_when_the_music_changed_and_position_alone_seldom(tmp_path):
    now = [0.0]
    state, player = _playing(tmp_path)
    journal = Journal(tmp_path / "journal.json", clock=lambda: now[0], position_interval_s=10.0)
    journal.offer(capture(state, None, player.position(state.frame)))
    assert journal.flush() and not journal.flush()
    _play(state, player, range(75, 100))  # a second later: only the position and the fade moved
    journal.offer(capture(state, None, player.position(state.frame)))
    now[0] = 1.0
    assert not journal.flush(), "a moving position alone waits for the position interval"
    now[0] = 10.5
    assert journal.flush() and read(journal.path).scene_frames == 99
    state.set("temperature", 0.7)
    journal.offer(capture(state, None, player.position(state.frame)))
    now[0] = 11.0
    assert journal.flush(), "a change a listener hears is written at once"
    assert [p.name for p in tmp_path.iterdir() if p.name != "set.yaml"] == ["journal.json"], "no temporary files left"


def test_a_version_1_journal_is_read(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"version": 1, "scene_path": "/srv/set.yaml", "state": {
        "/mrt/temperature": [1.3], "/mrt/volume": [-6.0], "/mrt/prompts": ["a", "alpha", "b", "beta"],
        "/mrt/mix": ["a", 0.25, "b", 0.75], "/mrt/axis/0": [0.5], "/mrt/xy": [0.1, 0.9], "/mrt/cue": ["verse"]}}))
    music = read(path)
    assert music.scene_path == "/srv/set.yaml" and music.cue == "verse"
    assert music.params == {"temperature": 1.3, "volume": -6.0}
    assert music.prompts == {"a": "alpha", "b": "beta"} and music.mix == {"a": 0.25, "b": 0.75}
    assert music.axes == {"0": 0.5} and music.xy == (0.1, 0.9)


@pytest.mark.parametrize("text, reason", [
    ("{half a json", "not JSON"),
    ('{"version": 4, "params": {}}', "version 4; this mrtd reads versions 1 to 3 (written by a newer mrtd?)"),
    ('["a", "list"]', "not a journal"),
    ('{"version": 3, "mix": {"a": "loud"}}', "mix.a:"),
    ('{"version": 3, "fade": {"target": {}, "frames_left": 5, "curve": "wobbly"}}', "unknown curve"),
    ('{"version": 3, "secret": "x"}', "secret: Extra inputs are not permitted"),
    ('{"version": 3, "scene_digest": "not a digest"}', "scene_digest:"),
])
def test_an_unusable_journal_is_refused_with_one_clear_line(tmp_path, caplog, text, reason):
    path = tmp_path / "journal.json"
    path.write_text(text)
    with pytest.raises(JournalError) as caught:
        read(path)
    assert reason in str(caught.value)
    assert "loud" not in str(caught.value) and "\"x\"" not in str(caught.value), "no file content in the message"
    with caplog.at_level(logging.WARNING):
        assert Journal(path).load() is None, "a fresh start, not a crash"
    assert [r.getMessage().count("\n") for r in caplog.records] == [0]


def test_an_oversized_journal_is_not_read(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text('{"version": 3, "prompts": {"a": "' + "x" * MAX_JOURNAL_BYTES + '"}}')
    with pytest.raises(JournalError, match="over"):
        read(path)


def test_a_value_this_version_refuses_is_skipped_and_the_rest_restored(tmp_path, caplog):
    music = MusicState(params={"temperature": 1.2, "top_k": -5.0, "no_such_param": 1.0})
    state = builtin_control()
    with caplog.at_level(logging.WARNING):
        restore(state, music, embeddings_of(music, EMBEDDER.embed_text), lambda *_: None)
    assert state.values["temperature"] == pytest.approx(1.2)
    assert {r.getMessage().split(":")[1].strip().split()[0] for r in caplog.records} == {"top_k", "no_such_param"}


def test_a_version_2_journal_is_read_and_its_cue_then_found_by_name(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"version": 2, "scene_path": "/srv/set.yaml", "cue": "verse", "scene_frames": 80}))
    music = read(path)
    assert music.version == 3 and music.scene_digest is None and music.cue == "verse"
    fit = fit_to_scene(music, "/srv/set.yaml", lambda _: "0" * 64, lambda _: ["intro", "verse"])
    assert fit.music == music and not fit.same_file, "no digest to compare: treated as edited, resumed by name"


# -- the journal belongs to its scene: restarts of a real daemon -----------------------------

ROOM = (
    "prompts: {rain: soft rain, bells: distant bells, drone: low drone}\n"
    "cues:\n"
    "  - {name: intro, at: 0, mix: {rain: 1}}\n"
    "  - {name: verse, at: 1, mix: {bells: 1}, fade: 2}\n"
    "  - {name: outro, at: 600, mix: {drone: 1}}\n"
)


def _first_run(tmp_path: Path) -> Path:
    """A daemon playing the room scene, stopped on its verse (the journal written at stop)."""
    scene = tmp_path / "room.yaml"
    scene.write_text(ROOM)
    with running_daemon(tmp_path, scene=str(scene), state_dir=str(tmp_path / "state"), midi=False) as (daemon, _):
        wait_for(lambda: daemon.control.cue == "verse", 10, "the verse")
    music = read(tmp_path / "state" / "journal.json")
    assert music.cue == "verse" and music.scene_digest is not None
    return scene


@contextlib.contextmanager
def _restarted(tmp_path: Path, scene: Path):
    with running_daemon(tmp_path, scene=str(scene), state_dir=str(tmp_path / "state"), midi=False) as (daemon, engine):
        wait_for(lambda: daemon.scenes.shown() is not None and daemon.control.cue, 10, "the scene")
        yield daemon


def _lines(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_the_same_scene_resumes_on_its_cue(tmp_path, caplog):
    scene = _first_run(tmp_path)
    with caplog.at_level(logging.INFO), _restarted(tmp_path, scene) as daemon:
        assert daemon.control.cue == "verse"
        assert [cue for _, cue in daemon.scenes.player.fired] == [], "nothing fired again: it stands on its cue"
        wait_for(lambda: daemon.control.style.weights()["bells"] > 0.999, 10, "the verse's fade to go on to the bells")
    assert _lines(caplog, "journal not applied") == [] and _lines(caplog, "edited") == []


def test_the_same_scene_edited_keeps_its_cue_by_name(tmp_path, caplog):
    scene = _first_run(tmp_path)
    scene.write_text("# edited on the gallery PC\n" + ROOM.replace("at: 1,", "at: 4,"))  # the verse moved later
    with caplog.at_level(logging.INFO), _restarted(tmp_path, scene) as daemon:
        assert daemon.control.cue == "verse"
        assert [cue for _, cue in daemon.scenes.player.fired] == [], "the intro is not replayed"
        position = daemon.scenes.position(daemon.control)
        assert position >= 4 * 25, "the place moved into the verse's span of the edited timeline"
    assert len(_lines(caplog, "was edited since it was written; resuming on its cue 'verse' by name")) == 1


def test_an_edited_scene_without_the_journaled_cue_starts_as_written(tmp_path, caplog):
    scene = _first_run(tmp_path)
    scene.write_text(ROOM.replace("name: verse", "name: chorus"))
    with caplog.at_level(logging.INFO), _restarted(tmp_path, scene) as daemon:
        assert [cue for _, cue in daemon.scenes.player.fired][:1] == ["intro"], "its first cue fires"
        assert daemon.control.style.weights()["bells"] == 0.0
    assert len(_lines(caplog, "has no cue 'verse' any more, so it starts as written")) == 1


def test_a_journal_from_another_scene_is_not_applied(tmp_path, caplog):
    _first_run(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(ROOM)  # the same text, another file
    with caplog.at_level(logging.INFO), _restarted(tmp_path, other) as daemon:
        assert [cue for _, cue in daemon.scenes.player.fired][:1] == ["intro"]
    assert len(_lines(caplog, f"journal not applied: it is from the scene {tmp_path / 'room.yaml'}")) == 1
