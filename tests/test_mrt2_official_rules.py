"""Prefill judged by the official engine's rules (magenta-realtime 2.0.3), not by mrtd's.

What the official code does (core/src/realtime_runner.cpp `prefill_state`/`prefill_silence`,
core/src/mlx_engine.cpp `prefill_silence`/`prefill_with_token_array`):
- audio: no reset; the tokens continue the live state; `cond` carries the live style's
  levels 0-5 (mask_musiccoca_during_prefill false), notes masked, drums masked or off;
- silence: reset to the checkpoint first; `cond` has all 12 style levels masked;
- both: the two negatives stay those of the last live frame (only `cond` is rewritten);
  the result becomes the checkpoint.
mrtd prefills a standby copy while the music plays on; `continue_from` gives it the live
engine's state, checkpoint and seed first. The tiny model echoes its inputs into its state
(tests/mrt2_tiny.py), so each rule is read back from what reached the function.
"""

from __future__ import annotations

import numpy as np
import pytest

import mrt2_tiny as tiny
from mrtd.conditioning import NOTE_HELD, Conditioning
from mrtd.engines.mrt2 import PREVIOUS_FRAME_OFFSETS, ModelError, Mrt2Engine, mlx_session
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE

MODEL = "mrt2_tiny"
MASK = 6  # -1 + 7
STYLE = np.array([5, 900, 17, 0, 1023, 44, -1, -1, -1, -1, -1, -1], dtype=np.int32)


@pytest.fixture
def home(tmp_path):
    tiny.export_tiny_model(tmp_path, MODEL)
    tiny.export_tiny_encoder(tmp_path)
    return tmp_path


def _engine(home) -> Mrt2Engine:
    engine = Mrt2Engine(MODEL, home)
    engine.warm_up()
    return engine


@pytest.fixture
def playing(home):
    engine = _engine(home)
    yield engine
    engine.close()


@pytest.fixture
def standby(home):
    engine = _engine(home)
    yield engine
    engine.close()


def _live() -> Conditioning:
    notes = np.full(128, -1, dtype=np.int8)
    notes[58:63] = 0
    notes[60] = NOTE_HELD
    return Conditioning(style_tokens=STYLE, notes=notes, drums=1, temperature=0.7, top_k=17, cfg_style=2.5,
                        cfg_notes=6.25, cfg_drums=3.0)


def _cond(conditioning: Conditioning) -> np.ndarray:
    """`cond` as the official engine writes it for a live frame: every value +7."""
    return np.concatenate([conditioning.style_tokens, conditioning.notes.astype(np.int32), [conditioning.drums]]) + 7


def _audio(seconds: float) -> np.ndarray:
    frames = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES
    level = np.repeat(0.01 + 0.3 * (np.arange(frames) % 37) / 37, FRAME_SAMPLES).astype(np.float32)
    return np.random.default_rng(7).uniform(-1, 1, (len(level), 2)).astype(np.float32) * level[:, None]


def _step(engine: Mrt2Engine, conditioning: Conditioning, frames: int) -> None:
    for _ in range(frames):
        engine.step(conditioning)


def test_the_silence_prefill_masks_all_twelve_style_levels_whatever_plays(playing):
    live = _live()
    _step(playing, live, 3)
    playing.prefill_silence(frames=20, live=live)
    cond = tiny.state_numpy(playing, "echo_cond")[0, 0]
    assert (cond[:12] == MASK).all(), "all 12 style levels masked (mask_musiccoca_during_prefill true)"
    assert (cond[12:140] == MASK).all() and cond[140] == MASK, "notes masked; drums on: masked, the model decides"


def test_the_audio_prefill_hears_the_live_style_levels_zero_to_five(playing):
    live = _live()
    _step(playing, live, 3)
    playing.prefill_from_audio(_audio(3.0), live=live)
    cond = tiny.state_numpy(playing, "echo_cond")[0, 0]
    np.testing.assert_array_equal(cond[:6], STYLE[:6] + 7)
    assert (cond[6:12] == MASK).all() and (cond[12:140] == MASK).all()


@pytest.mark.parametrize("kind", ["audio", "silence"])
def test_the_prefill_keeps_the_live_frame_s_negatives(playing, kind):
    live = _live()
    _step(playing, live, 3)
    if kind == "audio":
        playing.prefill_from_audio(_audio(3.0), live=live)
    else:
        playing.prefill_silence(frames=20, live=live)
    expected_neg_style = _cond(live)
    expected_neg_style[:12] = MASK  # the live cond with its style masked: the live notes stay in it
    expected_neg_notes = _cond(live)
    expected_neg_notes[12:140] = MASK  # the live cond with its notes masked: the live style stays in it
    np.testing.assert_array_equal(tiny.state_numpy(playing, "echo_neg_style")[0, 0], expected_neg_style)
    np.testing.assert_array_equal(tiny.state_numpy(playing, "echo_neg_notes")[0, 0], expected_neg_notes)
    playing.step(live)
    np.testing.assert_array_equal(tiny.state_numpy(playing, "echo_cond")[0, 0], _cond(live), "the live cond is back")


def test_the_audio_prefill_continues_the_live_state(playing):
    live = _live()
    _step(playing, live, 7)
    fed = playing.prefill_from_audio(_audio(3.0), live=live)
    assert tiny.state_numpy(playing, "counter")[0] == 7 + fed - 1, "no reset: the 7 live steps are in the context"


def test_the_silence_prefill_resets_to_the_checkpoint_first(playing):
    _step(playing, _live(), 7)
    playing.prefill_silence(frames=20)
    assert tiny.state_numpy(playing, "counter")[0] == 19, "reset first: only the 19 stepped silent frames"


@pytest.fixture
def played(playing):
    """A playing engine whose checkpoint is a prefill's (not the factory state), seed rotation 5,
    6 frames into the music."""
    live = _live()
    playing.prefill_silence(frames=10, live=live)
    playing.rotate_seed(5)
    _step(playing, live, 6)
    assert tiny.state_numpy(playing, "counter")[0] == 9 + 6
    return playing


def _same_state(a: Mrt2Engine, b: Mrt2Engine) -> None:
    with mlx_session() as mx:
        for mine, theirs in zip(a.state, b.state):
            np.testing.assert_array_equal(np.array(mine.astype(mx.float32)), np.array(theirs.astype(mx.float32)))


@pytest.mark.parametrize("kind", ["audio", "silence"])
def test_a_standby_copy_prefills_as_the_playing_engine_itself_would(home, played, standby, kind):
    """mrtd's prefill runs on a standby copy; after `continue_from` it ends in the very state the
    official runner's one engine reaches: audio from the live state, silence from the live
    checkpoint with the live seed rotation."""
    live = _live()
    reference = _engine(home)  # the official way, played back: the engine that plays, prefilled in place
    try:
        reference.continue_from(played)
        standby.continue_from(played)
        _step(played, live, 3)  # the music goes on while the standby fills: that does not leak in
        for engine in (reference, standby):
            if kind == "audio":
                fed = engine.prefill_from_audio(_audio(3.0), live=live)
            else:
                fed = engine.prefill_silence(frames=4, live=live)
        _same_state(standby, reference)
        if kind == "audio":
            assert tiny.state_numpy(standby, "counter")[0] == 9 + 6 + fed - 1, "the live 15 steps, then the audio"
            return
        assert tiny.state_numpy(standby, "counter")[0] == 9 + fed - 1, "reset to the live checkpoint (9 steps), then silence"
        with mlx_session() as mx:
            key = mx.random.key(42 + 0 + 5)  # the official reset's key(42 + i + rotation), the live rotation
            for _ in range(fed - 1):  # the tiny model splits its key once per step
                key = mx.random.split(key)[1]
            expected_key = np.array(key).reshape(1, 2)
        np.testing.assert_array_equal(tiny.state_numpy(standby, "rng"), expected_key)
    finally:
        reference.close()


def test_continue_from_refuses_another_model_or_a_closed_engine(home, standby):
    tiny.export_tiny_model(home, "mrt2_other", weights_seed=3)
    other = Mrt2Engine("mrt2_other", home)
    with pytest.raises(ModelError, match="cannot continue"):
        standby.continue_from(other)
    same = _engine(home)
    same.close()
    with pytest.raises(ModelError, match="replaced meanwhile"):
        standby.continue_from(same)
    other.close()


# -- on the official 1-layer export (the real architecture, random weights) -----------------


@pytest.fixture(scope="module")
def official_with_encoder(tmp_path_factory):
    """The cached official export (tests/test_mrt2_official.py), beside the tiny SpectroStream stand-in."""
    from test_mrt2_official import MODEL as OFFICIAL_MODEL, official_export_home

    cached = official_export_home()  # made once per magenta-rt version, or found in the cache
    home = tmp_path_factory.mktemp("official_with_encoder")
    models = home / "magenta-rt-v2" / "models"
    models.mkdir(parents=True)
    (models / OFFICIAL_MODEL).symlink_to(cached / "magenta-rt-v2" / "models" / OFFICIAL_MODEL)
    tiny.export_tiny_encoder(home)
    return home, OFFICIAL_MODEL


def test_on_the_official_export_a_standby_copy_prefills_bit_identically_to_the_playing_engine(official_with_encoder):
    """The real architecture's state (bf16 caches, the [1,C,1,12] previous-frame slot, the RNG key)
    moves whole: a copy that takes on the live music and prefills lands bit for bit where the
    playing engine itself does (about 40 s on a 2-core CPU: each step of the export takes seconds)."""
    home, model = official_with_encoder
    live = _live()
    playing, standby = Mrt2Engine(model, home), Mrt2Engine(model, home)  # no warm-up: each step costs seconds
    try:
        playing.step(live)
        standby.continue_from(playing)
        audio = _audio(52 * FRAME_SAMPLES / SAMPLE_RATE)  # 2 frames left after the trim: one prefill step
        assert [engine.prefill_from_audio(audio, live=live) for engine in (playing, standby)] == [2, 2]
        _same_state(standby, playing)
    finally:
        playing.close()
        standby.close()
