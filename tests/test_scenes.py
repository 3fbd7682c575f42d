"""Scenes: validation, rendering, cue timing, mappings, MIDI, learn, hot reload, limits."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import probed_daemon, wait_for
from mrtd.app.render import render_scene
from mrtd.core.scene.loader import SceneError, json_schema, parse_scene
from mrtd.core.scene.wallclock import machine_zone

SCENES = sorted((Path(__file__).parent.parent / "scenes").glob("*.yaml"))


def test_there_is_an_example_scene_for_each_kind_of_user():
    names = {p.stem for p in SCENES}
    assert {"live-coding", "gallery-day-night", "therapy-two-buttons", "tablet-xy"} <= names


@pytest.mark.parametrize("scene", SCENES, ids=[p.stem for p in SCENES])
def test_every_example_scene_checks_and_renders_deterministically(scene, tmp_path):
    check = subprocess.run([sys.executable, "-m", "mrtd", "check", str(scene)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "ok" in check.stdout, check.stderr
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    # From a fixed wall-clock time (a Wednesday afternoon, open hours): a scene on the clock
    # renders what that time says; the others ignore it.
    start = datetime(2026, 6, 10, 14, 30, tzinfo=machine_zone()).timestamp()
    result = render_scene(scene, first, seconds=12, seed=3, cache_dir=str(tmp_path / "cache"), start=start)
    render_scene(scene, second, seconds=12, seed=3, cache_dir=str(tmp_path / "cache"), start=start)
    assert first.read_bytes() == second.read_bytes(), "a render is deterministic"
    with wave.open(str(first)) as wav:
        assert wav.getnframes() == 12 * 48000
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert np.abs(audio).max() > 500, "the scene makes sound"
    assert result.peak <= 1.0


def test_render_from_the_command_line_is_faster_than_real_time(tmp_path):
    out = tmp_path / "set.wav"
    result = subprocess.run(
        [sys.executable, "-m", "mrtd", "render", str(SCENES[0]), "-o", str(out), "--seconds", "20", "--seed", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    speed = float(result.stdout.split("(")[1].split("x real time")[0])
    assert speed > 1.0, result.stdout
    assert out.stat().st_size > 20 * 48000 * 4


def test_a_cue_timeline_lands_each_cue_in_its_frame(tmp_path):
    path = tmp_path / "timeline.yaml"
    path.write_text(
        "tempo: 120\nmeter: 4\n"
        "prompts: {a: alpha, b: beta}\n"
        "cues:\n"
        "  - {name: one, at: 0, mix: {a: 1}}\n"
        "  - {name: two, at: 1.5, mix: {b: 1}, fade: {beats: 2}}\n"
        '  - {name: three, at: "2:1", mix: {a: 1}}\n'  # bar 2 = 2 s at 120 BPM in 4/4
        '  - {name: four, at: "3:2.5", mix: {b: 1}}\n'  # 8 + 1.5 beats = 4.75 s
        "  - {name: manual}\n"
    )
    result = render_scene(path, tmp_path / "t.wav", seconds=6, cache_dir=str(tmp_path))
    assert result.cues_fired == [(0, "one"), (round(1.5 * 25), "two"), (50, "three"), (round(4.75 * 25), "four")]


def test_a_looping_scene_starts_again(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("prompts: {a: alpha}\ncues:\n  - {name: x, at: 0, mix: {a: 1}}\n  - {name: y, at: 1, mix: {a: 0.5}}\nloop: true\nlength: 2\n")
    result = render_scene(path, tmp_path / "l.wav", seconds=5, cache_dir=str(tmp_path))
    assert [f for f, _ in result.cues_fired] == [0, 25, 50, 75, 100]


def test_errors_come_all_at_once_with_lines_and_suggestions(tmp_path):
    text = (
        "name: broken\n"
        "promts: {}\n"  # 2
        "prompts:\n"
        "  a: alpha\n"
        "cues:\n"
        "  - mix: {a: 1, b: 2}\n"  # 6: unknown prompt b
        "    fade: {secnds: 3}\n"  # 7
        "  - set: {temprature: 1}\n"  # 8
        "mappings:\n"
        "  - {midi: {cc: 300}, param: volume}\n"  # 10
    )
    with pytest.raises(SceneError) as caught:
        parse_scene(text, "set.yaml")
    errors = caught.value.errors
    assert "set.yaml:2: promts: unknown key 'promts' (did you mean 'prompts'?)" in errors
    assert any(e.startswith("set.yaml:7: cues[0].fade.secnds:") and "did you mean 'seconds'" in e for e in errors)
    assert any(e.startswith("set.yaml:8: cues[1].set:") and "did you mean 'temperature'" in e for e in errors)
    assert any(e.startswith("set.yaml:10: mappings[0].midi.cc:") for e in errors)
    assert len(errors) == 4
    # once the structure is right, cross references are checked, each with its line
    with pytest.raises(SceneError) as caught:
        parse_scene("prompts:\n  a: alpha\ncues:\n  - mix: {a: 1, aa: 2}\n", "ref.yaml")
    assert caught.value.errors == ["ref.yaml:4: cues[0].mix.aa: no prompt named 'aa' (did you mean 'a'?)"]


def _errors(text: str) -> list[str]:
    with pytest.raises(SceneError) as caught:
        parse_scene(text, "s.yaml")
    return caught.value.errors


def test_yaml_syntax_errors_keep_pyyamls_words_on_a_line_of_the_file():
    # a quote left open on the last line: the problem is at the end of the stream, past the file
    (error,) = _errors('name: x\nprompts:\n  dub: "deep dub\n')
    assert error == "s.yaml:3: found unexpected end of stream, while scanning a quoted scalar that starts on line 3, column 8"
    # a quote left open above other lines: the parser's context says where the mapping began
    (error,) = _errors('name: x\nprompts:\n  dub: "deep dub\n  acid: "acid"\n')
    assert error.startswith("s.yaml:4: ") and "while parsing a block mapping that starts on line 3, column 3" in error
    assert error.endswith("; check the indentation of line 4 (or a quote left open above it)")


def test_a_bad_indent_says_which_line_to_look_at():
    (error,) = _errors("name: x\nprompts:\n  dub: dub\n   acid: acid\n")
    assert error.startswith("s.yaml:4: mapping values are not allowed") and "check the indentation of line 4" in error
    (error,) = _errors("name: x\nprompts:\n  dub: dub\n acid: acid\n")
    assert error.startswith("s.yaml:4: ") and "check the indentation of line 4" in error


def test_nan_is_not_a_number_not_a_number_too_big():
    errors = _errors("prompts:\n  dub: {text: dub, weight: .nan}\ncues:\n  - {name: a, mix: {dub: .inf}}\n")
    assert errors == ["s.yaml:2: prompts.dub.weight: is .nan, not a number",
                      "s.yaml:4: cues[0].mix.dub: is .inf, not a finite number"]


def test_a_key_of_another_part_says_where_it_belongs_not_a_near_spelling():
    scene = ("prompts: {dub: dub, acid: acid}\naxes:\n  heat: {from: dub, to: acid}\n"
             "mappings:\n  - {midi: {cc: 1}, to: heat}\n")
    (error,) = _errors(scene)
    assert error.startswith("s.yaml:5: mappings[0].to: unknown key 'to' ('to' is a key of axes.NAME, not here; keys here: midi,")
    assert "toggle?" not in error
    # a misspelling at its own place still gets its did-you-mean, from that place's keys
    errors = _errors("prompts: {dub: dub, acid: acid}\naxes:\n  heat: {from: dub, ot: acid}\n")
    assert "s.yaml:3: axes.heat.ot: unknown key 'ot' (did you mean 'to'?)" in errors


def test_a_duplicate_cue_name_points_at_the_duplicate():
    errors = _errors("prompts: {dub: dub}\ncues:\n  - {name: intro, mix: {dub: 1}}\n  - {name: groove}\n"
                     "  - {name: intro}\n")
    assert errors == ["s.yaml:5: cues[2].name: cue name 'intro' is used twice (first by cues[0])"]


def test_check_reports_broken_files_and_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tempo: fast\n")
    result = subprocess.run([sys.executable, "-m", "mrtd", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{bad}:1: tempo:" in result.stderr


def test_check_accepts_a_cue_state_bank_of_1_to_16_or_factory_and_nothing_else(tmp_path):
    scene = tmp_path / "banks.yaml"
    good = "cues:\n  - {name: a, state: 1}\n  - {name: b, state: 16}\n  - {name: c, state: factory}\n"
    scene.write_text(good)
    result = subprocess.run([sys.executable, "-m", "mrtd", "check", str(scene)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for bad in ["0", "17", "'2'", "2.5", "true", "empty"]:
        scene.write_text(f"cues:\n  - {{name: a, state: {bad}}}\n")
        result = subprocess.run([sys.executable, "-m", "mrtd", "check", str(scene)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "cues[0].state" in result.stderr, (bad, result.stderr)


def test_the_json_schema_is_exported_for_editors():
    schema = json_schema()
    assert schema["additionalProperties"] is False and "cues" in schema["properties"]
    committed = json.loads((Path(__file__).parent.parent / "docs" / "scene.schema.json").read_text())
    assert committed == schema, "docs/scene.schema.json is stale: run `mrtd scene-schema > docs/scene.schema.json`"


# -- live ---------------------------------------------------------------------------


def _daemon(tmp_path, scene: Path | None, midi: bool = False):
    """A probed daemon playing `scene`, loading others from tmp_path: yields (daemon, engine, probe)."""
    return probed_daemon(tmp_path, scene=str(scene) if scene else None, scene_dir=str(tmp_path), midi=midi)


def test_osc_mapped_buttons_and_surface(tmp_path):
    with _daemon(tmp_path, SCENES[[p.stem for p in SCENES].index("tablet-xy")]) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "tablet surface", 5, "the scene")
        probe.send("/pad", 1.0, 0.0)  # the synth corner
        wait_for(lambda: daemon.control.style.weights().get("synth", 0) > 0.99, 5, "the pad to move the mix")
        probe.send("/fader/style", 1.0)
        wait_for(lambda: engine.seen[-1].cfg_style == pytest.approx(4.0), 5, "the fader to set cfg_style")
        start = probe.transcript.mark()
        probe.send("/pad", "left")
        assert "wants a number" in probe.transcript.wait_for_first("/mrt/error", since=start).args[1]


def test_therapy_limits_hold_whatever_the_input(tmp_path):
    with _daemon(tmp_path, SCENES[[p.stem for p in SCENES].index("therapy-two-buttons")]) as (daemon, engine, probe):
        peaks: list[float] = []
        daemon.generator.taps.append(lambda frame: peaks.append(float(np.abs(frame).max())))
        wait_for(lambda: daemon.control.scene == "two big buttons", 5, "the scene")
        rng = np.random.default_rng(0)
        for _ in range(200):  # a room of excited hands
            probe.send("/mrt/volume", 12.0)
            probe.send("/mrt/temperature", float(rng.uniform(0, 3)))
            probe.send("/mrt/topk", int(rng.integers(1, 1024)))
            probe.send("/mrt/drums", 1)
            probe.send("/mrt/mix", "bright", 1.0, "calm", 0.0)  # no fade asked for
            probe.send("/button/1", 1.0)
            probe.send("/button/1", 0.0)
        wait_for(lambda: daemon.control.pending() == 0, 5, "the inputs to land")
        frames = len(engine.seen)
        wait_for(lambda: len(engine.seen) > frames + 10, 5, "more frames")
        values = daemon.control.values
        assert values["volume"] <= -12.0
        assert all(0.6 <= c.temperature <= 1.1 and 20 <= c.top_k <= 80 and c.drums == 0 for c in engine.seen[-10:])
        embeddings = np.array([c.style_embedding for c in engine.seen])
        steps = np.linalg.norm(np.diff(embeddings, axis=0), axis=1)
        assert steps.max() < 0.05, "every mix change fades over seconds, never jumps"
        ceiling = 0.5 * 10 ** (-12 / 20)  # the tone engine plays at 0.5
        assert max(peaks[-25:]) <= ceiling + 1e-6


def test_hot_reload_keeps_playing_refuses_broken_files_and_swaps_good_ones(tmp_path, caplog):
    scene = tmp_path / "live.yaml"
    scene.write_text("name: v1\nprompts: {a: alpha, b: beta}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n")
    with _daemon(tmp_path, scene) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "v1", 5, "v1")
        frames = len(engine.seen)
        scene.write_text("name: v2\nprompts: {a: alpha, b: beta}\ncues:\n  - {name: one, at: 0, mix: {a: 1, c: 1}}\n  - {bogus: 1}\n")
        wait_for(lambda: daemon.scenes.last_errors, 5, "the broken version to be refused")
        errors = daemon.scenes.last_errors
        assert any(e.startswith(f"{scene}:5: cues[1].bogus: unknown key") for e in errors), errors
        wait_for(lambda: len(engine.seen) > frames + 25, 5, "a second of music after the refusal")
        assert daemon.control.scene == "v1" and daemon.status()["underruns"] == 0
        assert any("not reloaded" in r.getMessage() for r in caplog.records)

        a = daemon.control.style.embedding_of("a").copy()
        scene.write_text("name: v3\nprompts: {a: alpha, b: beta}\ncues:\n  - {name: one, at: 0, mix: {b: 1}, fade: 1}\n")
        wait_for(lambda: daemon.control.scene == "v3", 5, "the good version to swap in")
        swapped = len(engine.seen) - 1
        wait_for(lambda: len(engine.seen) > swapped + 30, 5, "the crossfade")
        path = [float(c.style_embedding @ a) for c in engine.seen[swapped - 2 : swapped + 30]]
        assert path[0] == pytest.approx(float(a @ a), rel=1e-4), "the current mix was kept at the swap"
        assert np.all(np.abs(np.diff(path)) < 0.2), "then it crossfaded to the new cue's mix"
        assert path[-1] < path[0] * 0.5
        assert daemon.status()["underruns"] == 0


def test_scene_load_and_cues_over_osc(tmp_path):
    (tmp_path / "set.yaml").write_text("name: set\nprompts: {a: alpha, b: beta}\ncues:\n  - {name: one, mix: {a: 1}}\n  - {name: two, mix: {b: 1}}\n")
    with _daemon(tmp_path, None) as (daemon, engine, probe):
        probe.send("/mrt/scene/load", "set")
        wait_for(lambda: daemon.control.scene == "set", 5, "the scene")
        probe.send("/mrt/cue", "two")
        wait_for(lambda: daemon.control.cue == "two", 5, "cue two")
        probe.send("/mrt/cue/next")  # at the end, without loop: stays
        probe.send("/mrt/cue", 1)
        wait_for(lambda: daemon.control.cue == "one", 5, "cue 1 by number")
        start = probe.transcript.mark()
        probe.send("/mrt/cue", "three")
        assert "no cue 'three'" in probe.transcript.wait_for_first("/mrt/error", since=start).args[1]
        start = probe.transcript.mark()
        probe.send("/mrt/scene/load", "missing")
        assert "no scene missing.yaml" in probe.transcript.wait_for_first("/mrt/error", since=start).args[1]


# -- MIDI (JACK MIDI: there is no ALSA sequencer in a container) --------------------------------


@pytest.fixture
def keyboard(jack_server):
    import rtmidi

    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="test-keyboard")
    yield out
    out.close_port()
    out.delete()


def _connect(keyboard, before: set[str]) -> None:
    """Connect to the port this daemon made (JACK renames a second `mrtd` client `mrtd-01`)."""

    def new_port() -> str | None:
        return next((p for p in keyboard.get_ports() if p not in before and p.startswith("mrtd") and p.endswith(":in")), None)

    wait_for(lambda: new_port() is not None, 5, "mrtd's virtual MIDI port")
    keyboard.open_port(keyboard.get_ports().index(new_port()))


def test_a_midi_cc_moves_its_parameter_along_the_curve(tmp_path, keyboard):
    scene = tmp_path / "cc.yaml"
    scene.write_text("mappings:\n  - {midi: {cc: 21}, param: temperature, range: [0.25, 2.0], curve: exp}\n"
                     "  - {midi: {cc: 22}, param: cfg_notes, range: [0, 6], invert: true}\n")
    before = set(keyboard.get_ports())
    with _daemon(tmp_path, scene, midi=True) as (daemon, engine, probe):
        _connect(keyboard, before)
        for value in (0, 64, 127):
            keyboard.send_message([0xB0, 21, value])
            expected = 0.25 * (2.0 / 0.25) ** (value / 127)
            wait_for(lambda: engine.seen[-1].temperature == pytest.approx(expected, rel=1e-6), 5, f"CC 21 = {value}")
        keyboard.send_message([0xB3, 22, 127])  # any channel, inverted: full CC is the bottom
        wait_for(lambda: engine.seen[-1].cfg_notes == pytest.approx(0.0), 5, "inverted CC 22")
        keyboard.send_message([0x90, 64, 100])  # unmapped notes play
        wait_for(lambda: engine.seen[-1].notes[64] == 3, 5, "a MIDI note (onset mode 0: on)")


def test_midi_learn_over_osc(tmp_path, keyboard):
    before = set(keyboard.get_ports())
    with _daemon(tmp_path, None, midi=True) as (daemon, engine, probe):
        _connect(keyboard, before)
        assert probe.request("/mrt/learn", "/mrt/learning", "cfg_drums") == ["param", "cfg_drums"]
        keyboard.send_message([0xB0, 30, 127])  # the control the performer moves
        wait_for(lambda: len(daemon.scenes.mappings.mappings) == 1, 5, "the mapping to be learned")
        keyboard.send_message([0xB0, 30, 0])
        wait_for(lambda: engine.seen[-1].cfg_drums == pytest.approx(-1.0), 5, "the learned control at its bottom")
        keyboard.send_message([0xB0, 30, 127])
        wait_for(lambda: engine.seen[-1].cfg_drums == pytest.approx(7.0), 5, "the learned control at its top")
        start = probe.transcript.mark()
        probe.send("/mrt/learn", "temprature")
        assert "unknown parameter 'temprature' (did you mean 'temperature'?)" in probe.transcript.wait_for_first("/mrt/error", since=start).args[1]
