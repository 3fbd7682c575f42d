"""After kill -9 (a power cut, an OOM kill), the restarted daemon resumes from its journal."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_udp_port, mrtd_frames, wait_for
from osc_probe import OscProbe


def _start(state: Path, port: int, *extra: str) -> subprocess.Popen:
    """Start mrtd; its log goes to a file (a pipe nobody drains could block its logging)."""
    log = state.parent / f"mrtd-{port}-{len(list(state.parent.glob('mrtd-*.log')))}.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--output", "null", "--no-midi",
             "--osc-port", str(port), "--state-dir", str(state), *extra],
            stderr=stderr,
        )
    wait_for(lambda: "ready" in log.read_text() or process.poll() is not None, 30, "mrtd to start")
    assert process.poll() is None, log.read_text()
    return process


def _state(probe: OscProbe) -> dict[str, list]:
    start = probe.transcript.mark()
    probe.send("/mrt/sync")
    probe.transcript.wait_for_first("/mrt/synced", since=start)
    return dict(probe.transcript.since(start).messages())


def test_kill_dash_nine_then_restart_restores_the_journal(tmp_path):
    state, port = tmp_path / "state", free_udp_port()
    process = _start(state, port)
    probe = OscProbe(port)
    try:
        probe.send("/mrt/prompt", "rain", "soft rain on a tin roof", 0.3)
        probe.send("/mrt/prompt", "bells", "distant church bells", 0.7)
        probe.send("/mrt/temperature", 1.4)
        probe.send("/mrt/cfg/notes", 5.0)
        probe.send("/mrt/volume", -9.0)
        journal = state / "journal.json"

        def journaled() -> bool:
            try:
                saved = json.loads(journal.read_text())["params"]
            except (OSError, ValueError, KeyError):
                return False
            return saved.get("volume") == -9.0 and saved.get("temperature") == pytest.approx(1.4)

        wait_for(journaled, 10, "the journal to catch up")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        probe.close()
        process.kill()

    process = _start(state, port)
    probe = OscProbe(port)
    try:
        restored = _state(probe)
        wait_for(lambda: _state(probe)["/mrt/volume"][0] == pytest.approx(-9.0, abs=0.05), 10, "the fade-in to land")
    finally:
        probe.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert restored["/mrt/temperature"][0] == pytest.approx(1.4)
    assert restored["/mrt/cfg/notes"][0] == pytest.approx(5.0)
    prompts = restored["/mrt/prompts"]
    assert dict(zip(prompts[::2], prompts[1::2])) == {"bells": "distant church bells", "rain": "soft rain on a tin roof"}
    mix = dict(zip(restored["/mrt/mix"][::2], restored["/mrt/mix"][1::2]))
    assert mix == {"bells": pytest.approx(0.7), "rain": pytest.approx(0.3)}
    assert restored["/mrt/volume"][0] < -9.0, "it fades in rather than starting at full level"


def test_fresh_ignores_the_journal(tmp_path):
    state, port = tmp_path / "state", free_udp_port()
    state.mkdir()
    (state / "journal.json").write_text(json.dumps({"version": 1, "state": {"/mrt/temperature": [2.5]}, "scene_path": None}))
    process = _start(state, port, "--fresh")
    probe = OscProbe(port)
    try:
        assert _state(probe)["/mrt/temperature"][0] == pytest.approx(1.1)
    finally:
        probe.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def _status(probe: OscProbe) -> dict:
    start = probe.transcript.mark()
    probe.send("/mrt/status")
    args = probe.transcript.wait_for_first("/mrt/status", since=start).args
    return dict(zip(args[::2], args[1::2]))


@pytest.mark.parametrize("loaded_by", ["osc", "command line"])
def test_a_scene_comes_back_on_its_cue_and_place_in_the_cue_list(tmp_path, loaded_by):
    """A scene (loaded over OSC, or named on the command line), 3 s into its cue list: after
    kill -9 the same scene plays, on the same cue, from the same place, and the cue at 0 s is
    not played again."""
    scenes, state, port = tmp_path / "scenes", tmp_path / "state", free_udp_port()
    scenes.mkdir()
    (scenes / "set.yaml").write_text(
        "prompts: {rain: soft rain, bells: distant bells}\n"
        "cues:\n"
        "  - {name: intro, at: 0, mix: {rain: 1}}\n"
        "  - {name: verse, at: 2, mix: {bells: 1}}\n"
        "  - {name: outro, at: 600, mix: {rain: 1}}\n"
    )
    scene_flags = ("--scene-dir", str(scenes)) if loaded_by == "osc" else ("--scene", str(scenes / "set.yaml"))
    process = _start(state, port, *scene_flags)
    probe = OscProbe(port)
    try:
        probe.request("/mrt/subscribe", "/mrt/subscribed")
        if loaded_by == "osc":
            probe.send("/mrt/scene/load", "set")
        probe.transcript.wait_for_first("/mrt/cue", ["verse"], timeout=20, what="the verse cue")
        probe.send("/mrt/temperature", 1.3)  # a change the journal writes at once, with the position
        journal = state / "journal.json"

        def journaled() -> dict | None:
            try:
                saved = json.loads(journal.read_text())
            except (OSError, ValueError):
                return None
            return saved if saved.get("cue") == "verse" and saved.get("params", {}).get("temperature") == pytest.approx(1.3) else None

        wait_for(lambda: journaled() is not None, 10, "the journal to catch up")
        position = journaled()["scene_frames"] / 25
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        probe.close()
        process.kill()

    process = _start(state, port, *scene_flags)
    probe = OscProbe(port)
    try:
        status = _status(probe)
        log = "".join(p.read_text() for p in tmp_path.glob("mrtd-*.log"))
    finally:
        probe.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert status["scene"] == "set" and status["cue"] == "verse"
    assert status["scene_position_s"] >= position >= 2.0, "the cue list goes on from where it was, not from 0"
    assert log.count("cue intro") == 1, "the cue passed before the restart is not played again"


def _mix(state: dict[str, list]) -> dict[str, float]:
    args = state.get("/mrt/mix", [])
    return dict(zip(args[::2], args[1::2]))


def test_a_journal_from_a_run_without_a_scene_does_not_silence_the_scene(tmp_path):
    """Issue 24 (2): the recipe's first start has no scene; the technician then adds one. The
    journal of the first run is not the scene's: the scene starts as written, its first cue
    fading its prompt in from 0 (before the fix the mix stayed at 0 for every prompt)."""
    scenes, state, port = tmp_path / "scenes", tmp_path / "state", free_udp_port()
    scenes.mkdir()
    scene = scenes / "rooms.yaml"
    scene.write_text(
        "prompts: {night: deep dark drone, dawn: morning birdsong}\n"
        "cues:\n"
        "  - {name: night, at: 0, mix: {night: 1}, fade: 6}\n"
        "  - {name: dawn, at: 3600, mix: {dawn: 1}, fade: 60}\n"
    )
    process = _start(state, port)  # the first start: no scene
    try:
        wait_for(lambda: (state / "journal.json").exists(), 10, "the journal")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert json.loads((state / "journal.json").read_text())["scene_path"] is None

    process = _start(state, port, "--scene", str(scene))
    probe = OscProbe(port)
    try:
        first = _mix(_state(probe))
        wait_for(lambda: _mix(_state(probe)).get("night", 0.0) > 0.999, 20, "the night prompt to fade in")
        last = _mix(_state(probe))
    finally:
        probe.close()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    log = sorted(tmp_path.glob("mrtd-*.log"))[-1].read_text()
    assert first.get("night", 0.0) < 0.5, f"the fade starts from silence: {first}"
    assert last["night"] == pytest.approx(1.0, abs=1e-3) and last.get("dawn", 0.0) == 0.0
    why = [line for line in log.splitlines() if "journal not applied" in line]
    assert len(why) == 1 and "without a scene" in why[0] and str(scene) in why[0], log[-3000:]
    assert "cue night" in log


def _engine_state(path: Path) -> tuple[int, int]:
    """(frames the engine had made, the synth's voice clock) of a journaled engine state."""
    from mrtd.engines import state as engine_state

    saved = engine_state.read(path, 16 << 20)
    return saved.frames, saved.values["voices._clock"]["i"]  # type: ignore[index]


def test_kill_dash_nine_then_restart_continues_the_engines_own_state(tmp_path):
    """The music itself survives: the synth restarted after kill -9 continues the state journaled
    before it (its frames and its voices' clock go on from there), not a fresh synth from frame 0."""
    state, port = tmp_path / "state", free_udp_port()
    process = _start(state, port)
    kept = state / "engine-state.safetensors"
    try:
        wait_for(kept.is_file, 20, "the engine's state to be journaled")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    saved_frames, saved_clock = _engine_state(kept)
    assert saved_frames > 0 and saved_clock == saved_frames * 1920
    process = _start(state, port)
    try:
        wait_for(lambda: _engine_state(kept)[0] != saved_frames, 20, "the restarted engine's state to be journaled")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    restarted_log = sorted(tmp_path.glob("mrtd-*.log"))[-1].read_text()
    made_since = int(re.findall(r"stopped after (\d+) frames", restarted_log)[-1])
    frames, clock = _engine_state(kept)
    # A fresh engine would count at most the frames made since the restart.
    assert saved_frames < frames <= saved_frames + made_since, "the restarted engine counts on from the saved state"
    assert "continues the saved music" in restarted_log
    assert clock == frames * 1920, "its voices' clock went on from the saved one"


def test_a_clean_stop_keeps_the_engines_state_as_it_was_at_the_last_frame(tmp_path):
    """A reboot or `systemctl restart` stops mrtd cleanly: what it journals of the music is its
    last frame, not what it was up to `engine_state_interval_s` (here an hour) before."""
    state, port = tmp_path / "state", free_udp_port()
    config = tmp_path / "mrtd.yaml"
    config.write_text("engine_state_interval_s: 3600  # an hour: only the stop writes it\n")
    process = _start(state, port, "--config", str(config))
    kept = state / "engine-state.safetensors"
    try:
        wait_for(lambda: mrtd_frames(port) > 50, 20, "some music", every=1.0)
        assert not kept.exists(), "an hour has not passed"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    made = int(re.findall(r"stopped after (\d+) frames", sorted(tmp_path.glob("mrtd-*.log"))[-1].read_text())[-1])
    frames, clock = _engine_state(kept)
    assert made - 2 <= frames <= made, "the state of the last frame or so"
    assert clock == frames * 1920
