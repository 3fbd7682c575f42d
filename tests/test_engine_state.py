"""An engine's state saved and loaded: a save, more frames, a load, and the next frames are those
that followed the save (sample-exact on the synth, every state array and token on mrt2: the tiny
signature model and the official 1-layer export); a state from another engine or model, and
hostile files (truncated, wrong metadata, huge), refused with one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mrt2_tiny as tiny
from mrtd.conditioning import NOTE_HELD, NOTE_ONSET, Conditioning
from mrtd.engines import state as engine_state
from mrtd.engines.mrt2 import Mrt2Engine, mlx_session
from mrtd.engines.state import StateError
from mrtd.engines.synth import SynthEngine
from test_mrt2 import MODEL, _conditioning, home  # noqa: F401  (fixtures)


def _synth_conditioning(frame: int) -> Conditioning:
    conditioning = Conditioning(drums=1, temperature=1.3)
    conditioning.notes[60] = NOTE_ONSET if frame % 25 == 0 else NOTE_HELD
    conditioning.beat = frame * 0.08
    return conditioning


def _synth_frames(engine: SynthEngine, start: int, count: int) -> list[np.ndarray]:
    return [engine.step(_synth_conditioning(start + i)).copy() for i in range(count)]


def test_a_synth_saved_stepped_and_loaded_makes_the_same_samples_again():
    engine = SynthEngine(seed=3)
    _synth_frames(engine, 0, 60)
    saved = engine_state.to_bytes(engine.save_state())
    after_save = _synth_frames(engine, 60, 40)
    other = SynthEngine(seed=9)  # another engine of the same build: the state carries its seed
    _synth_frames(other, 0, 7)
    other.load_state(engine_state.from_bytes(saved))
    assert other.frames_made == 60
    again = _synth_frames(other, 60, 40)
    for frame, (expected, got) in enumerate(zip(after_save, again)):
        np.testing.assert_array_equal(got, expected, err_msg=f"frame {frame} after the load")
    assert max(float(np.abs(f).max()) for f in after_save) > 0.01, "the frames compared are not silence"


def test_a_state_is_refused_by_another_engine_and_another_build():
    synth_state = SynthEngine().save_state()
    wrong = engine_state.EngineState("mrt2", "mrt2_small", synth_state.fingerprint, 3, synth_state.arrays,
                                     synth_state.values)
    with pytest.raises(StateError, match="from 'mrt2 mrt2_small'"):
        SynthEngine().load_state(wrong)
    synth_state.fingerprint = "0" * 16
    with pytest.raises(StateError, match="another build"):
        SynthEngine().load_state(synth_state)


def _tiny_arrays(engine: Mrt2Engine) -> list[np.ndarray]:
    return [tiny.state_numpy(engine, name) for name in tiny.STATE_NAMES]


def _steps(engine: Mrt2Engine, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, tokens = [], []
    for i in range(count):
        frames.append(np.array(engine.step(_conditioning(notes=np.where(np.arange(128) == 60 + i % 5, 1, -1)
                                                                 .astype(np.int8)))))
        tokens.append(engine.last_tokens())
    return frames, tokens


def test_a_tiny_mrt2_saved_stepped_and_loaded_continues_token_for_token(home, tmp_path):
    engine = Mrt2Engine(MODEL, home, seed=4)
    other = Mrt2Engine(MODEL, home)
    try:
        _steps(engine, 6)
        engine.prefill_from_tokens(np.arange(36, dtype=np.int32).reshape(3, 12))  # moves the checkpoint
        _steps(engine, 2)
        capture = engine.capture_state()  # the generation thread's cheap copy
        _steps(engine, 1)  # the engine plays on before the copy is converted and written
        state = capture()
        assert state.values["checkpoint"] == "saved"
        path = tmp_path / "bank-1.safetensors"
        path.write_bytes(engine_state.to_bytes(state))
        engine.load_state(engine_state.read(path, engine.state_limit_bytes()))  # back to the save
        frames, tokens = _steps(engine, 5)
        after = _tiny_arrays(engine)
        other.load_state(engine_state.read(path, other.state_limit_bytes()))
        frames_again, tokens_again = _steps(other, 5)
        np.testing.assert_array_equal(np.stack(tokens_again), np.stack(tokens))
        np.testing.assert_array_equal(np.stack(frames_again), np.stack(frames))
        for name, a, b in zip(tiny.STATE_NAMES, _tiny_arrays(other), after):
            np.testing.assert_array_equal(b, a, err_msg=name)
        engine.reset(), other.reset()  # a reset returns to the saved checkpoint, seed rotation 4
        np.testing.assert_array_equal(_steps(other, 3)[1], _steps(engine, 3)[1])
    finally:
        engine.close()
        other.close()


def test_a_state_from_another_model_is_refused(home, tmp_path):
    tiny.export_tiny_model(tmp_path / "other", MODEL, weights_seed=1)  # same shapes, another function file
    engine = Mrt2Engine(MODEL, home)
    other = Mrt2Engine(MODEL, tmp_path / "other")
    try:
        with pytest.raises(StateError, match="another build of 'mrt2 mrt2_tiny'"):
            other.load_state(engine.save_state())
        with pytest.raises(StateError, match="from 'synth'"):
            engine.load_state(SynthEngine().save_state())
    finally:
        engine.close()
        other.close()


def _hostile_files(good: bytes) -> dict[str, bytes]:
    header_length = int.from_bytes(good[:8], "little")
    header = json.loads(good[8 : 8 + header_length])
    header["__metadata__"]["format"] = "something else"
    foreign = json.dumps(header).encode()
    header["__metadata__"]["format"] = "mrtd-engine-state"
    header["__metadata__"]["frames"] = "many"
    damaged = json.dumps(header).encode()
    return {
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "header cut": good[:20],
        "not ours": len(foreign).to_bytes(8, "little") + foreign + good[8 + header_length :],
        "damaged metadata": len(damaged).to_bytes(8, "little") + damaged + good[8 + header_length :],
        "huge header": (1 << 40).to_bytes(8, "little") + good[8:],
    }


@pytest.mark.parametrize("kind", ["empty", "truncated", "header cut", "not ours", "damaged metadata",
                                  "huge header", "huge file"])
def test_hostile_state_files_are_refused_with_one_clear_error(tmp_path, kind):
    engine = SynthEngine()
    good = engine_state.to_bytes(engine.save_state())
    path = tmp_path / "bank-1.safetensors"
    if kind == "huge file":
        with open(path, "wb") as file:
            file.truncate(engine.state_limit_bytes() + 1)  # sparse: nothing is read
    else:
        path.write_bytes(_hostile_files(good)[kind])
    with pytest.raises(StateError) as refused:
        engine.load_state(engine_state.read(path, engine.state_limit_bytes()))
    assert "\n" not in str(refused.value) and str(refused.value)


def _official_steps(engine: Mrt2Engine, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    style = np.array([5, 77, 300, 1023, 0, 42, -1, -1, -1, -1, -1, -1], dtype=np.int32)
    tokens, arrays = [], []
    for i in range(count):
        conditioning = Conditioning(style_tokens=style, drums=i % 2, temperature=1.1, top_k=50)
        conditioning.notes[60 + i % 3] = NOTE_HELD
        engine.step(conditioning)
        tokens.append(engine.last_tokens())
    with mlx_session() as mx:
        for array in engine.state:
            if mx.issubdtype(array.dtype, mx.floating):
                array = array.view({2: mx.uint16, 4: mx.uint32}[array.dtype.size])
            arrays.append(np.array(array))
    return tokens, arrays


def test_the_official_export_saved_stepped_and_loaded_is_token_exact(tmp_path):
    from test_mrt2_official import MODEL as OFFICIAL, official_export_home

    home = official_export_home()
    engine = Mrt2Engine(OFFICIAL, home)
    try:
        _official_steps(engine, 3)
        path = tmp_path / "bank-2.safetensors"
        path.write_bytes(engine_state.to_bytes(engine.capture_state()()))
        tokens, arrays = _official_steps(engine, 4)
        engine.load_state(engine_state.read(path, engine.state_limit_bytes()))
        tokens_again, arrays_again = _official_steps(engine, 4)
        np.testing.assert_array_equal(np.stack(tokens_again), np.stack(tokens))
        assert len(arrays_again) == len(arrays)
        for i, (a, b) in enumerate(zip(arrays_again, arrays)):
            np.testing.assert_array_equal(a, b, err_msg=f"state_{i}")
    finally:
        engine.close()
