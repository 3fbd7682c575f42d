"""The mrt2 engine, run on tiny exported MLX functions with exactly the MRT2 signature."""

from __future__ import annotations

import os

import threading
import time

import numpy as np
import pytest

import mrt2_tiny as tiny
from conftest import CaptureOutput, wait_for
from mrtd.conditioning import Conditioning
from mrtd.engines import create_engine
from mrtd.engines.mrt2 import (
    COND_LEN,
    PREVIOUS_FRAME_OFFSETS,
    ModelError,
    Mrt2Engine,
    assets_present,
    mlx_session,
)
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from style_fakes import builtin_control

MODEL = "mrt2_tiny"


@pytest.fixture
def home(tmp_path):
    tiny.export_tiny_model(tmp_path, MODEL)
    return tmp_path


@pytest.fixture
def engine(home):
    engine = Mrt2Engine(MODEL, home)
    engine.warm_up()
    yield engine
    engine.close()


def _conditioning(**changes) -> Conditioning:
    conditioning = Conditioning()
    for name, value in changes.items():
        setattr(conditioning, name, value)
    return conditioning


def _run(engine, frames: int, conditioning: Conditioning | None = None) -> np.ndarray:
    conditioning = conditioning or Conditioning()
    return np.stack([engine.step(conditioning).copy() for _ in range(frames)])


# -- what reaches the function ---------------------------------------------------


def test_conditioning_reaches_the_function_with_offsets_and_negatives(engine):
    style = np.array([5, 900, 17, 0, 1023, 44, -1, -1, -1, -1, -1, -1], dtype=np.int32)
    notes = np.full(128, -1, dtype=np.int8)
    notes[[36, 60, 64, 67, 100]] = [0, 1, 2, 3, 0]
    conditioning = _conditioning(style_tokens=style, notes=notes, drums=1, temperature=0.7, top_k=17,
                                 cfg_style=-0.5, cfg_notes=6.25, cfg_drums=3.0)
    engine.step(conditioning)

    cond = tiny.state_numpy(engine, "echo_cond")
    assert cond.shape == (1, 1, COND_LEN) and cond.dtype == np.int32
    expected = np.concatenate([style, notes.astype(np.int32), [1]]) + 7
    np.testing.assert_array_equal(cond[0, 0], expected)
    assert cond[0, 0, 6] == 6 and cond[0, 0, 12] == 6, "masked (-1) becomes 6"

    neg_style = tiny.state_numpy(engine, "echo_neg_style")[0, 0]
    assert (neg_style[:12] == 6).all()
    np.testing.assert_array_equal(neg_style[12:], expected[12:])
    neg_notes = tiny.state_numpy(engine, "echo_neg_notes")[0, 0]
    assert (neg_notes[12:140] == 6).all()
    np.testing.assert_array_equal(neg_notes[:12], expected[:12])
    assert neg_notes[140] == 8, "the drum slot stays in the notes negative"

    temperature, top_k, cfg_style, cfg_notes, cfg_drums, forced_frames = tiny.state_numpy(engine, "echo_scalars")
    assert temperature == pytest.approx(0.7) and top_k == pytest.approx(0.17)  # the tiny model stores top_k / 100
    assert (cfg_style, cfg_notes, cfg_drums) == (pytest.approx(-0.5), 6.25, 3.0), "CFG goes in raw, not binned"
    assert forced_frames == 0, "forced_tokens is [1,0,12] while playing"


@pytest.mark.parametrize(
    "change",
    [
        {"style_tokens": np.array([3] * 6 + [-1] * 6, dtype=np.int32)},
        {"notes": np.where(np.arange(128) == 60, 2, -1).astype(np.int8)},
        {"drums": 0},
        {"cfg_style": 5.0},
        {"cfg_notes": 0.0},
        {"cfg_drums": -1.0},
        {"temperature": 2.5},
        {"top_k": 900},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_input_changes_the_output(engine, change):
    baseline = _run(engine, 3)
    engine.reset()
    changed = _run(engine, 3, _conditioning(**change))
    assert not np.array_equal(baseline, changed)


# -- state ------------------------------------------------------------------------


def test_state_threads_from_step_to_step_exactly_like_a_bare_loop(engine, home):
    frames = _run(engine, 20)
    assert tiny.state_numpy(engine, "counter")[0] == 20
    assert not np.array_equal(frames[0], frames[1]), "the recurrence moves every frame"

    # The same function, called directly with the state threaded by hand, predicts every frame.
    with mlx_session() as mx:
        function = mx.import_function(str(engine.function_path))
        saved = mx.load(str(engine.state_path))
        state = [saved[f"state_{i}"] for i in range(len(saved))]
        args = tiny.example_args(mx)
        expected = []
        for _ in range(20):
            outputs = function(*args, *state)
            mx.eval(outputs)
            state = list(outputs[1:])
            expected.append(np.array(outputs[0])[0].T / 32768.0)
    np.testing.assert_array_equal(frames, np.stack(expected).astype(np.float32))


def test_reset_restores_the_checkpoint(engine):
    first = _run(engine, 8)
    _run(engine, 5)
    engine.reset()
    np.testing.assert_array_equal(_run(engine, 8), first)
    # A reset requested through the conditioning lands on the same frame.
    _run(engine, 3)
    again = engine.step(_conditioning(reset=True)).copy()
    np.testing.assert_array_equal(again, first[0])


def test_seed_rotation_changes_the_output_at_reset(engine):
    original = _run(engine, 6)
    engine.reset()

    # A seed change is noticed at once but applies only at the next reset.
    continued = np.stack([engine.step(_conditioning(seed=3)).copy() for _ in range(6)])
    np.testing.assert_array_equal(continued, original)
    engine.reset()
    with mlx_session() as mx:  # the official rotation: key(42 + i + rotation)
        np.testing.assert_array_equal(tiny.state_numpy(engine, "rng"), np.array(mx.random.key(42 + 3)).reshape(1, 2))
    rotated = _run(engine, 6, _conditioning(seed=3))
    assert not np.array_equal(rotated, original)
    # A reset requested in the same frame as a seed change already uses the new seed.
    engine.step(_conditioning(seed=0))
    first = engine.step(_conditioning(seed=3, reset=True))
    np.testing.assert_array_equal(first, rotated[0])

    engine.rotate_seed(0)
    engine.reset()
    np.testing.assert_array_equal(_run(engine, 6), original)


def test_the_engine_steps_on_another_thread_than_the_one_that_loaded_it(engine):
    here = _run(engine, 4)
    engine.reset()
    there: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: there.append(_run(engine, 4)))
    thread.start()
    thread.join()
    np.testing.assert_array_equal(there[0], here)


# -- timing, warm-up, keep-warm -----------------------------------------------------


def _slow_down(engine: Mrt2Engine, seconds: float) -> None:
    """Stand in for a model too slow for real time (like ToneEngine's step_seconds)."""
    function = engine._fn

    def slow(*args):
        time.sleep(seconds)
        return function(*args)

    engine._fn = slow


def test_a_model_slower_than_real_time_says_so_and_names_the_smaller_model(tmp_path):
    tiny.export_tiny_model(tmp_path, "mrt2_base")
    engine = Mrt2Engine("mrt2_base", tmp_path)
    _slow_down(engine, 0.05)
    engine.warm_up(steps=3)
    assert engine.realtime_warning is not None
    assert "not real-time on this machine" in engine.realtime_warning
    assert "mrt2_small" in engine.realtime_warning
    assert "not real-time" in engine.describe()

    engine.step(Conditioning())
    assert engine.frames_late == 1
    metrics = engine.metrics()
    assert metrics.last_ms > 40 and metrics.realtime_factor < 1.0
    engine.close()


def test_a_fast_model_has_no_warning_and_reports_metrics(engine):
    assert engine.realtime_warning is None
    _run(engine, 10)
    metrics = engine.metrics()
    assert metrics.steps == 10 and metrics.p99_ms >= metrics.mean_ms > 0
    assert metrics.realtime_factor > 1.0
    assert engine.frames_late == 0
    assert MODEL in engine.describe()
    # Where it steps, for /mrt/status and the verdict: MLX's device and this machine's CPU.
    assert engine.hardware().startswith("MLX cpu (") and engine.hardware().endswith(f", {os.cpu_count()} cores)")
    assert engine.verdict.hardware == engine.hardware()


def test_keep_warm_runs_between_frames_without_changing_the_music(home):
    cold = Mrt2Engine(MODEL, home)
    cold.warm_up()
    expected = _run(cold, 10)
    cold.close()

    warm = Mrt2Engine(MODEL, home, keep_warm=True, keep_warm_interval=0.0005)
    warm.warm_up()
    wait_for(lambda: warm.keep_warm_ticks >= 5, 5.0, "keep-warm ticks")
    np.testing.assert_array_equal(_run(warm, 10), expected)
    warm.close()
    assert not warm._keep_warm.running


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "says"),
    [
        ("wrong_signature", ["wrong signature", "takes 19 inputs", "passes 20"]),
        ("wrong_output_count", ["wrong signature", "returns 11 outputs"]),
        ("wrong_state_shape", ["wrong shapes", "state_0", "[1,32]", "[1,16]"]),
        ("wrong_audio_shape", ["wrong shapes", "audio output is [1,1920,2]", "[1,2,1920]"]),
    ],
)
def test_a_broken_model_gives_a_clear_error(tmp_path, variant, says):
    tiny.export_tiny_model(tmp_path, "broken", variant=variant)
    with pytest.raises(ModelError) as caught:
        Mrt2Engine("broken", tmp_path)
    message = str(caught.value)
    for fragment in says:
        assert fragment in message, message


def test_a_missing_file_names_the_path(home):
    state_path = home / "magenta-rt-v2" / "models" / MODEL / f"{MODEL}_state.safetensors"
    state_path.unlink()
    with pytest.raises(ModelError, match="missing file .*mrt2_tiny_state.safetensors"):
        Mrt2Engine(MODEL, home)
    with pytest.raises(ModelError, match=r"missing file .*nothing_here[/\\]nothing_here.mlxfn"):
        Mrt2Engine("nothing_here", home)


def _daemon(tmp_path, monkeypatch, model, fallback="synth"):
    from mrtd.app.daemon import Daemon, DaemonConfig

    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    return Daemon(DaemonConfig(engine="mrt2", model=model, output="null", osc=None, fallback_engine=fallback,
                               cache_dir=str(tmp_path / "cache"), record_dir=str(tmp_path / "rec")))


@pytest.mark.parametrize(
    ("problem", "says"),
    [("missing", "missing file"), ("wrong_signature", "wrong signature"), ("wrong_audio_shape", "wrong shapes")],
)
def test_the_daemon_stays_up_and_falls_back_to_synth(tmp_path, monkeypatch, problem, says):
    if problem != "missing":
        tiny.export_tiny_model(tmp_path, "broken", variant=problem)
    daemon = _daemon(tmp_path, monkeypatch, "broken")
    daemon.start()
    try:
        wait_for(lambda: daemon.status()["frames"] > 5, 10.0, "frames from the fallback engine")
        status = daemon.status()
        assert status["engine"].startswith("synth")
        assert says in status["engine_error"]
    finally:
        daemon.stop()


def test_without_a_fallback_the_daemon_refuses_to_start(tmp_path, monkeypatch):
    daemon = _daemon(tmp_path, monkeypatch, "absent", fallback=None)
    with pytest.raises(ModelError, match="missing file"):
        daemon.start()
    daemon.stop()


def test_the_daemon_reports_mrt2_metrics(tmp_path, monkeypatch):
    tiny.export_tiny_model(tmp_path, MODEL)
    daemon = _daemon(tmp_path, monkeypatch, MODEL)
    daemon.start()
    try:
        wait_for(lambda: daemon.status()["frames"] > 5, 10.0, "frames from mrt2")
        status = daemon.status()
        assert status["engine"].startswith("mrt2 mrt2_tiny")
        assert status["engine_error"] == "" and status["realtime_warning"] == ""
        assert status["rtf"] > 1.0 and status["frames_late"] == 0
    finally:
        daemon.stop()


def test_auto_picks_mrt2_when_its_assets_are_present(tmp_path):
    assert not assets_present(None, tmp_path)
    tiny.export_tiny_model(tmp_path, "mrt2_small")
    assert assets_present(None, tmp_path)
    engine = create_engine("auto", magenta_home=tmp_path)
    assert engine.name == "mrt2" and engine.model == "mrt2_small"
    engine.close()


def test_auto_picks_synth_without_assets(tmp_path):
    engine = create_engine("auto", magenta_home=tmp_path / "empty")
    assert engine.name == "synth"
    engine.close()


# -- prefill -----------------------------------------------------------------------------


def _test_audio(seconds: float) -> np.ndarray:
    """Stereo noise whose level steps every frame, so every frame encodes differently."""
    frames = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES
    level = np.repeat(0.01 + 0.3 * (np.arange(frames) % 37) / 37, FRAME_SAMPLES).astype(np.float32)
    noise = np.random.default_rng(7).uniform(-1, 1, (len(level), 2)).astype(np.float32)
    return noise * level[:, None]


def test_prefill_from_audio_feeds_trimmed_tokens_and_becomes_the_checkpoint(engine, home):
    tiny.export_tiny_encoder(home)
    audio = _test_audio(10.0)  # 250 frames; 25 trimmed at each end
    fed = engine.prefill_from_audio(audio)
    assert fed == 200

    tokens = tiny.tiny_encoder_tokens(home, audio)[:, 25:225, :12]  # 16 levels come out, the model reads 12
    unique = tokens + PREVIOUS_FRAME_OFFSETS
    # Frames 0..N-2 were stepped as forced tokens [1,1,12]; the last one waits in the previous-frame slot.
    assert tiny.state_numpy(engine, "counter")[0] == 199
    np.testing.assert_array_equal(tiny.state_numpy(engine, "echo_forced"), unique[:, -2:-1])
    np.testing.assert_array_equal(tiny.state_numpy(engine, "previous_frame"), unique[:, -1:])
    assert tiny.state_numpy(engine, "echo_scalars")[5] == 1, "forced_tokens was [1,1,12] while prefilling"
    prefill_cond = tiny.state_numpy(engine, "echo_cond")[0, 0]
    assert (prefill_cond == 6).all(), "style, notes and drums are masked while prefilling"

    after_prefill = _run(engine, 5)
    engine.reset()
    np.testing.assert_array_equal(_run(engine, 5), after_prefill)
    assert tiny.state_numpy(engine, "counter")[0] == 199 + 5


@pytest.mark.parametrize("live_drums, prefill_drums", [(0, 0), (1, -1), (-1, -1)])
def test_prefill_follows_the_live_style_drumless_setting_sampling_and_guidance(engine, home, live_drums, prefill_drums):
    """As core/src/realtime_runner.cpp: the prefill hears the live style and settings; notes masked."""
    tiny.export_tiny_encoder(home)
    style = np.array([5, 900, 17, 0, 1023, 44, -1, -1, -1, -1, -1, -1], dtype=np.int32)
    notes = np.full(128, -1, dtype=np.int8)
    notes[60] = 1
    live = _conditioning(style_tokens=style, notes=notes, drums=live_drums, temperature=0.7, top_k=17,
                         cfg_style=2.5, cfg_notes=6.25, cfg_drums=3.0)
    engine.prefill_from_audio(_test_audio(4.0), live=live)
    cond = tiny.state_numpy(engine, "echo_cond")[0, 0]
    np.testing.assert_array_equal(cond[:12], style + 7)
    assert (cond[12:12 + 128] == 6).all(), "notes masked: the audio being prefilled plays none"
    assert cond[-1] == prefill_drums + 7
    temperature, top_k, cfg_style, cfg_notes, cfg_drums, forced = tiny.state_numpy(engine, "echo_scalars")
    assert (temperature, round(top_k * 100), cfg_style, cfg_notes, cfg_drums, forced) == pytest.approx((0.7, 17, 2.5, 6.25, 3.0, 1))


def test_prefill_silence_feeds_the_encoded_silence_and_becomes_the_checkpoint(engine, home):
    tiny.export_tiny_encoder(home)
    fresh = _run(engine, 3)
    engine.reset()
    assert engine.prefill_silence(frames=60) == 60

    silent = tiny.tiny_encoder_tokens(home, np.zeros((0, 2), np.float32))[:, 350:351, :12]
    np.testing.assert_array_equal(tiny.state_numpy(engine, "echo_forced"), silent + PREVIOUS_FRAME_OFFSETS)
    np.testing.assert_array_equal(tiny.state_numpy(engine, "previous_frame"), silent + PREVIOUS_FRAME_OFFSETS)
    assert tiny.state_numpy(engine, "counter")[0] == 59
    after = _run(engine, 3)
    assert not np.array_equal(after, fresh)
    engine.reset()
    np.testing.assert_array_equal(_run(engine, 3), after)


def test_the_prefill_encode_leaves_the_mlx_lock_to_the_playing_engine(engine, home):
    """The encoder is one MLX call over 28 s of audio. Run under the lock the playing engine
    steps with, it would stall the music for its whole length; here the test holds that lock
    throughout, and the encode still finishes (it runs in its own process)."""
    import threading

    from mrtd.engines.mrt2 import _MLX_LOCK

    tiny.export_tiny_encoder(home)
    audio = _test_audio(4.0)
    result: list = []
    with _MLX_LOCK:  # as a step on the generation thread holds it
        worker = threading.Thread(target=lambda: result.append(engine._encode(audio)))
        worker.start()
        worker.join(60)
        finished = not worker.is_alive()
    worker.join()
    assert finished, "the encode waited for the MLX lock"
    np.testing.assert_array_equal(result[0], tiny.tiny_encoder_tokens(home, audio)[:, :, :12])


def test_an_encoder_that_cannot_be_imported_is_one_clear_error(engine, home):
    path = tiny.export_tiny_encoder(home)
    path.write_bytes(b"not an mlx function")
    with pytest.raises(ModelError, match="cannot import the SpectroStream encoder"):
        engine.prefill_silence()


def test_prefill_without_the_encoder_names_the_missing_file(engine):
    with pytest.raises(ModelError, match="missing file .*spectrostream_encoder.mlxfn"):
        engine.prefill_silence()


def test_prefill_refuses_audio_too_short_to_trim(engine, home):
    tiny.export_tiny_encoder(home)
    with pytest.raises(ValueError, match="more than 50 are needed"):
        engine.prefill_from_audio(np.zeros((FRAME_SAMPLES * 50, 2), np.float32))


# -- model swap ------------------------------------------------------------------------------

# The tiny model's loudest sine (440 Hz at 0.45) moves at most this much per sample; an
# equal-power crossfade of two of them at most twice that. A hard switch jumps far more.
SINE_STEP = 2 * np.pi * 440 / SAMPLE_RATE * 0.45
CROSSFADE_STEP = 2 * SINE_STEP * 1.1


def test_a_model_swap_crossfades_with_no_underrun_and_no_click(tmp_path):
    from mrtd.audio.playout import Playout
    from mrtd.runtime.generator import Generator
    from mrtd.app.chain import warm_up_step_s
    from mrtd.lifecycle import freeze_heap, thaw_heap
    from mrtd.runtime.runner import Runner, ring_for

    tiny.export_tiny_model(tmp_path, "model_a", weights_seed=1)
    tiny.export_tiny_model(tmp_path, "model_b", weights_seed=2)
    old = Mrt2Engine("model_a", tmp_path)
    old.warm_up()
    generator = Generator(old, builtin_control())
    playout = Playout(ring_for(0.012))
    sink = CaptureOutput(int(3.0 * SAMPLE_RATE))
    # Paced just in time, as the daemon paces it: each engine's warm-up p99 stands for its step until
    # it is measured, the incoming one's on top while both step.
    runner = Runner(generator, playout, 0.012, output_time=sink.time, device_latency=lambda: sink.latency,
                    step_hint=warm_up_step_s)
    freeze_heap()  # as the daemon does once started: no full collection of this process's heap mid-run
    runner.start()
    sink.start(playout)
    try:
        wait_for(lambda: sink.captured >= SAMPLE_RATE, 10.0, "a second of model_a")
        # Load beside the running engine, off the generation thread; only the switch happens there.
        new = Mrt2Engine("model_b", tmp_path)
        new.warm_up()
        swapped_at = generator.frames
        done = generator.swap_engine(new, crossfade_frames=4)
        assert done.wait(10.0), "the swap did not complete"
        assert generator.engine is new and old._closed
        assert sink.enough.wait(10.0), "the sink stalled"
    finally:
        sink.stop()
        runner.stop()
        thaw_heap()
    heard = sink.audio()
    assert playout.underruns == 0
    jumps = np.abs(np.diff(heard, axis=0)).max()
    assert jumps <= CROSSFADE_STEP, f"click: a jump of {jumps:.3f}"
    assert new.metrics().steps > 10 and old.metrics().steps >= swapped_at
    new.close()


def test_the_crossfade_is_needed(tmp_path):
    """Sanity check of the click bound: switching without a crossfade would break it."""
    tiny.export_tiny_model(tmp_path, "model_a", weights_seed=1)
    tiny.export_tiny_model(tmp_path, "model_b", weights_seed=2)
    a, b = Mrt2Engine("model_a", tmp_path), Mrt2Engine("model_b", tmp_path)
    a.warm_up()
    b.warm_up()
    joined = np.concatenate([_run(a, 10).reshape(-1, 2), _run(b, 10).reshape(-1, 2)])
    assert np.abs(np.diff(joined, axis=0)).max() > CROSSFADE_STEP
    a.close()
    b.close()


def test_model_swap_and_prefill_over_osc(tmp_path, monkeypatch):
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.inputs.osc.server import OscConfig
    from osc_probe import OscProbe

    tiny.export_tiny_model(tmp_path, MODEL)
    tiny.export_tiny_model(tmp_path, "mrt2_other", weights_seed=3)
    tiny.export_tiny_encoder(tmp_path)
    (tmp_path / "audio").mkdir()
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="mrt2", model=MODEL, output="null", osc=OscConfig(port=0), midi=False,
                                 cache_dir=str(tmp_path / "cache"), audio_dir=str(tmp_path / "audio")))
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        assert probe.request("/mrt/model", "/mrt/loading", "mrt2_other") == ["mrt2_other"]
        wait_for(lambda: daemon.generator.engine.model == "mrt2_other", 20, "the other model to take over")
        before = daemon.generator.engine
        probe.send("/mrt/temperature", 0.6)
        probe.send("/drumless", 1)
        wait_for(lambda: daemon.generator.last_conditioning.temperature == pytest.approx(0.6), 10, "the live setting")
        assert probe.request("/mrt/prefill", "/mrt/prefilling") == ["silence"]
        wait_for(lambda: daemon.generator.engine is not before, 60, "the prefilled copy to take over")
        assert daemon.generator.engine.model == "mrt2_other"
        prefilled_with = daemon.generator.engine.prefilled_with
        assert prefilled_with.temperature == pytest.approx(0.6) and prefilled_with.drums == 0, "the prefill follows what plays"
        # A second silence prefill resets first to the live checkpoint, the first prefill's, as the official
        # runner's one engine does (Mrt2Engine.continue_from): its 549 steps come on top of the first's.
        first = daemon.generator.engine
        assert probe.request("/mrt/prefill", "/mrt/prefilling") == ["silence"]
        wait_for(lambda: daemon.generator.engine is not first, 60, "the second prefilled copy to take over")
        checkpoint_steps = np.array(daemon.generator.engine._checkpoint[tiny.STATE["counter"]])[0]
        assert checkpoint_steps == 549 + 549
        for address, args, reason in [("/mrt/model", ["nope"], "no model 'nope'"),
                                      ("/mrt/prefill", ["../../etc/passwd"], "outside"),
                                      ("/mrt/prefill", ["missing.wav"], "no audio file")]:
            start = probe.transcript.mark()
            probe.send(address, *args)
            assert reason in probe.transcript.wait_for_first("/mrt/error", since=start).args[1]
        assert daemon.status()["underruns"] == 0
    finally:
        probe.close()
        daemon.stop()


def test_a_slow_model_load_swapped_in_while_playing_on_jack_makes_no_underrun(tmp_path, monkeypatch, jack_server):
    """Loading reads its files before taking the lock the playing engine steps under."""
    import mrtd.engines.mrt2 as mrt2_module
    from mrtd.app.daemon import Daemon, DaemonConfig

    tiny.export_tiny_model(tmp_path, MODEL)
    tiny.export_tiny_model(tmp_path, "mrt2_other", weights_seed=3)
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="mrt2", model=MODEL, output="default", osc=None, midi=False,
                                 cache_dir=str(tmp_path / "cache"), record_dir=str(tmp_path / "rec")))
    daemon.start()
    try:
        assert daemon.output.describe().startswith("device:"), daemon.output.describe()
        wait_for(lambda: daemon.playout.samples_out >= SAMPLE_RATE, 20, "a second on the device clock")
        reading = threading.Event()
        real_read = mrt2_module.read_model_file

        def slow_read(path):
            reading.set()
            started = time.monotonic()
            data = real_read(path)
            while time.monotonic() - started < 1.0:  # 2 files: a 2 s load, stepping the whole time
                time.sleep(0.01)
            return data

        monkeypatch.setattr(mrt2_module, "read_model_file", slow_read)
        before = daemon.status()["underruns"]
        frames_before = daemon.generator.frames
        done = daemon.swap_engine("mrt2", "mrt2_other")
        assert reading.wait(5)
        assert done.result(30).model == "mrt2_other"
        assert daemon.generator.frames - frames_before >= 50, "the old model played through the 2 s load"
        status = daemon.status()
    finally:
        daemon.stop()
    assert status["underruns"] - before == 0, status
