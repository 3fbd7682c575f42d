"""State banks over OSC on loopback, on a running daemon with the synth: save, load, factory;
refused without a state folder, for a bank out of range, an empty bank, or a bank from another
engine; each load is a crossfaded swap the capture records with its bank."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np

from conftest import probed_daemon, wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.core.banks import bank_path
from mrtd.core.capture import read_capture
from mrtd.frame import FRAME_SAMPLES
from mrtd.inputs.osc.server import OscConfig
from osc_probe import OscProbe
from test_capture_replay import replay, samples
from mrtd.engines import state as engine_state
from mrtd.engines.synth import SynthEngine


def _swapped_to(daemon, previous):
    wait_for(lambda: daemon.generator.engine is not previous and not daemon.generator.swapping, 20, "the swap")
    return daemon.generator.engine


def test_save_load_and_factory_over_osc(tmp_path):
    state = tmp_path / "state"
    with probed_daemon(tmp_path, engine=SynthEngine(seed=2), state_dir=str(state),
                       engine_state_interval_s=0) as (daemon, _engine, probe):
        wait_for(lambda: daemon.generator.frames > 30, 10, "frames")
        assert probe.request("/mrt/state/save", "/mrt/state/bank", 3) == ["save", 3]
        path = bank_path(state, 3)
        wait_for(path.is_file, 10, "bank 3 written")
        saved = engine_state.read(path, 16 << 20)
        assert saved.engine == "synth" and saved.frames > 30
        assert not list(path.parent.glob(".bank-3*")), "no temporary file left beside it"

        playing = daemon.generator.engine
        assert probe.request("/mrt/state/load", "/mrt/state/bank", 3) == ["load", 3]
        loaded = _swapped_to(daemon, playing)
        assert loaded.loaded_bank == 3 and loaded.frames_made >= saved.frames

        assert probe.request("/mrt/state/factory", "/mrt/state/bank") == ["factory", 0]
        fresh = _swapped_to(daemon, loaded)
        assert fresh.loaded_bank == 0 and fresh.frames_made < saved.frames

        for address, args, why in [("/mrt/state/load", [5], "bank 5 is empty"),
                                   ("/mrt/state/save", [17], "[1, 16]"), ("/mrt/state/load", [0], "[1, 16]")]:
            error = probe.request(address, "/mrt/error", *args)
            assert why in error[1], error


def test_a_bank_of_another_engine_is_refused_and_the_music_plays_on(tmp_path, caplog):
    state = tmp_path / "state"
    path = bank_path(state, 1)
    path.parent.mkdir(parents=True)
    other = engine_state.EngineState("mrt2", "mrt2_small", "0" * 16, 9, {"state_0": np.zeros(4, np.float32)}, {})
    path.write_bytes(engine_state.to_bytes(other))
    with probed_daemon(tmp_path, engine=SynthEngine(), state_dir=str(state)) as (daemon, _engine, probe):
        playing = daemon.generator.engine
        assert probe.request("/mrt/state/load", "/mrt/state/bank", 1) == ["load", 1]
        wait_for(lambda: "the state is from 'mrt2 mrt2_small'" in caplog.text, 20, "the load to be refused")
        assert daemon.generator.engine is playing and daemon.engines.engine is playing


def test_without_a_state_folder_every_bank_request_is_refused(tmp_path):
    with probed_daemon(tmp_path, engine=SynthEngine()) as (_daemon, _engine, probe):
        for address, args in [("/mrt/state/save", [1]), ("/mrt/state/load", [1]), ("/mrt/state/factory", [])]:
            error = probe.request(address, "/mrt/error", *args)
            assert "no state folder" in error[1], error


SCENE_WITH_BANKS = """\
name: banks
prompts:
  warm: {text: warm pads}
cues:
  - {name: start, mix: {warm: 1}}
  - {name: saved, state: 2}
  - {name: missing, state: 9}
  - {name: fresh, state: factory}
"""


def test_a_scene_cue_loads_a_bank_and_a_missing_bank_lets_the_music_go_on(tmp_path, caplog):
    state = tmp_path / "state"
    scene = tmp_path / "banks.yaml"
    scene.write_text(SCENE_WITH_BANKS)
    with probed_daemon(tmp_path, engine=SynthEngine(seed=2), state_dir=str(state), scene=str(scene),
                       scene_dir=str(tmp_path), engine_state_interval_s=0) as (daemon, _engine, probe):
        wait_for(lambda: daemon.generator.frames > 30, 10, "frames")
        assert probe.request("/mrt/state/save", "/mrt/state/bank", 2) == ["save", 2]
        wait_for(bank_path(state, 2).is_file, 10, "bank 2 written")
        saved = engine_state.read(bank_path(state, 2), 16 << 20)
        wait_for(lambda: daemon.generator.frames > saved.frames + 50, 10, "the music to move past the save")

        playing = daemon.generator.engine
        probe.send("/mrt/cue", "saved")
        loaded = _swapped_to(daemon, playing)
        assert loaded.loaded_bank == 2
        assert saved.frames <= loaded.frames_made < daemon.generator.frames, "it continues from the save"

        frames = daemon.generator.frames
        probe.send("/mrt/cue", "missing")
        wait_for(lambda: "cue missing: bank 9 not loaded: bank 9 is empty" in caplog.text, 10, "the refusal")
        wait_for(lambda: daemon.generator.frames > frames + 25, 10, "the music to go on")
        assert daemon.generator.engine is loaded and not daemon.generator.swapping

        probe.send("/mrt/cue", "fresh")
        fresh = _swapped_to(daemon, loaded)
        assert fresh.loaded_bank == 0 and fresh.frames_made < saved.frames


def test_a_session_whose_cue_loaded_a_bank_replays_sample_for_sample_from_its_state_folder(tmp_path):
    """Rehearse with banks, render the capture: `mrtd render --replay --state-dir` loads the bank
    where the cue did live (the capture holds the load; the replayed cue does not ask again), and
    is the live session sample for sample. Without the state folder it swaps to a fresh engine
    there, and says so."""
    state, scene, live, capture = tmp_path / "state", tmp_path / "banks.yaml", tmp_path / "live.wav", tmp_path / "set.capture"
    scene.write_text(SCENE_WITH_BANKS)
    daemon = Daemon(DaemonConfig(engine="synth", seed=2, output="null", outputs=[f"wav:{live}"], capture=str(capture),
                                 state_dir=str(state), engine_state_interval_s=0, scene=str(scene), scene_dir=str(tmp_path),
                                 osc=OscConfig(port=0), midi=False, cache_dir=str(tmp_path / "cache")))
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        wait_for(lambda: daemon.generator.frames > 30, 10, "frames")
        assert probe.request("/mrt/state/save", "/mrt/state/bank", 2) == ["save", 2]
        wait_for(bank_path(state, 2).is_file, 10, "bank 2 written")
        wait_for(lambda: daemon.generator.frames > engine_state.read(bank_path(state, 2), 16 << 20).frames + 50, 10,
                 "the music to move past the save")
        playing = daemon.generator.engine
        probe.send("/mrt/cue", "saved")
        assert _swapped_to(daemon, playing).loaded_bank == 2
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > frames + 25, 10, "a second of the loaded bank")
    finally:
        probe.close()
        daemon.stop()
    swapped_on = next(frame for frame, _, command in read_capture(capture).records if type(command).__name__ == "SwapEngine")

    heard = samples(live)
    replayed = replay(capture, tmp_path / "replay.wav", "--state-dir", str(state))
    made = samples(tmp_path / "replay.wav")
    assert len(made) == len(heard) and np.abs(made).max() > 1000
    different = np.flatnonzero(np.any(heard != made, axis=1))
    assert different.size == 0, f"first difference at frame {different[0] // FRAME_SAMPLES} (the swap: {swapped_on})"
    # Loaded once, from the capture's swap: nothing to say (the replayed cue does not ask again).
    assert "not loaded" not in replayed.stderr and "state folder" not in replayed.stderr, replayed.stderr

    refused = subprocess.run([sys.executable, "-m", "mrtd", "render", str(scene), "-o", str(tmp_path / "scene.wav"),
                              "--state-dir", str(state)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--state-dir is for a replay" in refused.stderr, refused.stderr

    # A bank saved over since the session replays as a fresh engine, saying so (not other music, silently).
    saved = engine_state.read(bank_path(state, 2), 16 << 20)
    bank_path(state, 2).write_bytes(engine_state.to_bytes(dataclasses.replace(saved, frames=saved.frames + 1)))
    changed = replay(capture, tmp_path / "changed.wav", "--state-dir", str(state))
    assert "bank 2 not loaded" in changed.stderr and "saved over since the session loaded it" in changed.stderr, changed.stderr

    fresh = replay(capture, tmp_path / "fresh.wav")
    assert "loaded bank 2 live; the replay has no state folder" in fresh.stderr, fresh.stderr
    made = samples(tmp_path / "fresh.wav")
    assert np.array_equal(made[: swapped_on * FRAME_SAMPLES], heard[: swapped_on * FRAME_SAMPLES])
    assert not np.array_equal(made[swapped_on * FRAME_SAMPLES:], heard[swapped_on * FRAME_SAMPLES:])
