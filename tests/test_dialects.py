"""SuperDirt-shaped events (/dirt/play, /play2), ORCA's `=` and Sonic Pi's `osc`, replayed as their hosts send them."""

from __future__ import annotations

import time

import pytest

from conftest import clocked_daemon, probed_daemon, wait_for
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET
from mrtd.inputs.osc.dialect import DirtConfig
from osc_probe import bundle, message

SOUNDING = (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL)  # onset mode 0 (the default) sends "on"


def dirt(*pairs) -> bytes:
    return message("/dirt/play", *pairs)


@pytest.fixture
def clocked(tmp_path):
    with clocked_daemon(tmp_path, dirt=DirtConfig(sounds={"fx": "param:cfg_style"})) as playing:
        yield playing


def first_frame(engine, check, what, after=-1):
    found = lambda: next((k for k, c in enumerate(engine.seen) if k > after and check(c)), None)
    wait_for(lambda: found() is not None, 5, what)
    return found()


def test_a_tidal_event_lands_on_its_frame_and_its_note_ends_by_itself(clocked):
    daemon, engine, sink, probe = clocked
    wall = time.time() + 0.4  # Tidal sends about 0.2 s ahead; well over the lead
    monotonic = wall - time.time() + time.monotonic()
    # As Tidal 1.7's superdirtTarget sends it: s, n (float), cps, cycle, delta, plus _id_ and orbit.
    probe.send_raw(bundle(wall, dirt("_id_", "1", "s", "superpiano", "n", 7.0, "cps", 0.5, "cycle", 12.0,
                                     "delta", 0.5, "legato", 0.5, "orbit", 0, "temperature", 1.7)))
    on = first_frame(engine, lambda c: c.notes[67] in SOUNDING, "note 67 (n 7 above C5 = 60)")
    off = first_frame(engine, lambda c: c.notes[67] not in SOUNDING, "the note to end", after=on)
    wait_for(lambda: sink.heard and sink.heard[-1][1] > monotonic + 0.4, 5, "the frames to be heard")
    assert on == sink.frame_heard_at(monotonic)
    assert off == sink.frame_heard_at(monotonic + 0.25)  # legato 0.5 * delta 0.5 s
    assert engine.seen[on].temperature == pytest.approx(1.7)
    assert daemon.control.clock.bpm == pytest.approx(120.0)  # cps 0.5 * 240
    # cycle 12 starts beat 48 at the event's time: the frame it lands on is within one frame of it
    assert engine.seen[on].beat == pytest.approx(48.0, abs=120.0 / 60.0 * 0.04)
    status = daemon.status()
    assert status["dialect_unknown_keys"] == 0, status  # orbit and _id_ are housekeeping


def test_pitches_follow_superdirt_and_sounds_select_what_an_event_means(tmp_path):
    with probed_daemon(tmp_path, dirt=DirtConfig(sounds={"fx": "param:cfg_style"})) as (daemon, engine, probe):
        probe.send_raw(dirt("s", "mrt", "note", -2.0, "octave", 4.0, "sustain", 5.0))  # 58 - 12
        probe.send_raw(dirt("s", "mrt", "midinote", 64, "sustain", 5.0))  # Strudel's note names
        wait_for(lambda: engine.seen and all(engine.seen[-1].notes[p] in SOUNDING for p in (46, 64)), 5, "both notes")
        probe.send_raw(message("/play2", "s", "top_k", "n", 33.0))  # a parameter as the sound
        probe.send_raw(dirt("s", "fx", "n", 5.5))  # a configured sound
        wait_for(lambda: engine.seen[-1].top_k == 33 and engine.seen[-1].cfg_style == pytest.approx(5.5), 5, "params")
        assert engine.seen[-1].notes[60] not in SOUNDING  # "s mrt" without a pitch plays no note


def test_unknown_keys_are_counted_and_a_wrong_type_gets_one_error(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        for _ in range(5):
            probe.send_raw(dirt("s", "mrt", "room", 0.3, "speed", 2.0, "temperature", "hot", "cfg_notes", 3.25))
        wait_for(lambda: engine.seen and engine.seen[-1].cfg_notes == pytest.approx(3.25), 5, "the good key")
        status = dict(zip(*[iter(probe.request("/mrt/status", "/mrt/status"))] * 2))
        assert status["dialect_unknown_keys"] == 10 and set(status["dialect_unknown"].split(",")) == {"room", "speed"}
        assert status["dialect_type_errors"] == 5
        errors = probe.transcript.args_of("/mrt/error")
        assert len(errors) == 1 and errors[0][0] == "/dirt/play" and "temperature" in errors[0][1], probe.transcript


def test_orca_packets_as_its_osc_operator_sends_them(tmp_path):
    """ORCA's `=` appends each glyph's base-36 value as an int: `=n4c7z` sends /n 4 12 7 35."""
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        probe.send("/t", 3, 12)  # =t3c: 120 BPM... then 3*36+24 = 132 below
        probe.send("/t", 3, 24)  # =t3o
        probe.send("/p", 0, 35)  # =p0z: temperature at the top of its range
        probe.send("/n", 4, 7, 35, 8)  # =n47z8: G4 = 67, full velocity, 8 sixteenths
        wait_for(lambda: engine.seen and engine.seen[-1].notes[67] in SOUNDING, 5, "the ORCA note")
        wait_for(lambda: engine.seen[-1].temperature == pytest.approx(3.0), 5, "temperature")
        assert daemon.control.clock.bpm == pytest.approx(132.0)
        probe.send("/n", 4, 36)  # not a glyph value
        assert "0-35" in probe.wait_for("/mrt/error")[1]


def test_sonic_pi_packets_as_its_osc_command_sends_them(tmp_path):
    """`use_osc "localhost", 7400` then `osc "/mrt/note/on", 62, 100`: plain messages, ints as i, floats as f."""
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        probe.send("/mrt/temperature", 1.25)
        probe.send("/mrt/note/on", 62, 100)
        probe.send("/dirt/play", "s", "mrt", "n", 4, "sustain", 0.5)  # `osc "/dirt/play", "s", "mrt", "n", 4, ...`
        wait_for(lambda: engine.seen and engine.seen[-1].notes[62] in SOUNDING and engine.seen[-1].notes[64] in SOUNDING, 5, "notes")
        assert engine.seen[-1].temperature == pytest.approx(1.25)


def test_a_prompt_of_the_scene_as_the_sound_sets_its_weight(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        probe.send("/mrt/prompt", "dark", "dark ambient drone")
        probe.send("/mrt/prompt", "bright", "bright fast techno")
        wait_for(lambda: daemon.snapshot.get("/mrt/prompts", [])[::2] == ["bright", "dark"], 10, "both prompts")
        probe.send_raw(bundle(None, dirt("s", "dark", "gain", 0.25), dirt("s", "bright", "gain", 0.75)))
        wait_for(lambda: daemon.snapshot.get("/mrt/mix") == ["bright", 0.75, "dark", 0.25], 10, "the mix from two events")


def test_the_config_file_maps_sounds_and_refuses_a_wrong_meaning(tmp_path):
    from mrtd.app.config import ConfigError, load_settings

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text('dirt: {select: sound, sounds: {fx: "param:cfg_style", drop: "cue:chorus"}}\n')
    bad.write_text('dirt: {sounds: {fx: "param:nope", pad: "sing"}}\n')
    config = load_settings(good, {}).daemon_config().dirt
    assert config.select == "sound" and config.sounds["drop"] == "cue:chorus"
    with pytest.raises(ConfigError) as refused:
        load_settings(bad, {})
    assert "bad.yaml:1" in str(refused.value) and "nope" in str(refused.value)


def test_events_fire_cues_by_number_and_through_a_custom_select_key(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    scene = folder / "set.yaml"
    scene.write_text("name: set\nprompts: {a: alpha, b: beta}\n"
                     "cues:\n  - {name: intro, mix: {a: 1}}\n  - {name: verse, mix: {b: 1}}\n  - {name: chorus, mix: {a: 0.5, b: 0.5}}\n")
    dirt_config = DirtConfig(select="sound", sounds={"drop": "cue:chorus"})
    with probed_daemon(tmp_path, scene=str(scene), scene_dir=str(folder), dirt=dirt_config) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "set", 5, "the scene")
        probe.send_raw(dirt("sound", "drop"))  # the configured select key and meaning
        wait_for(lambda: daemon.control.cue == "chorus", 5, "chorus, named by the config")
        probe.send_raw(dirt("sound", "cue", "n", 2.0))  # a cue by number, as `s "cue" # n 2` with select: sound
        wait_for(lambda: daemon.control.cue == "verse", 5, "cue 2, verse")
        probe.send_raw(dirt("s", "drop"))  # `s` is not the select key here: not a cue
        assert probe.exchange("/mrt/ping", "fence") == [("/mrt/pong", ["fence"])]
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > frames + 3, 5, "frames after it")  # a cue would have applied
        assert daemon.control.cue == "verse"
