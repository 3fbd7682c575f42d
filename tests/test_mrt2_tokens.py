"""The lossless branch: a frame's tokens out, and a prefill from such tokens, by the official rules.

Official (magenta-realtime 2.0.3, core/src/mlx_engine.cpp): `generate_frame(..., tokens_out)`
reads the decoder's previous-frame slot after the step, its first CFG slice, and gives each
level's code as `p[k] - k * 1024 - 6`; `prefill_state_from_tokens` (its default
`mask_musiccoca_during_prefill` true) teacher-forces them from the state the engine is in: no
reset, frames 0..N-2 stepped as forced tokens, the last written into the previous-frame slot,
style, notes and drums masked, the result checkpointed. On the tiny signature model.
"""

from __future__ import annotations

import numpy as np
import pytest

import mrt2_tiny as tiny
from mrtd.engines.mrt2 import MAX_TOKEN_PREFILL_FRAMES, Mrt2Engine
from test_mrt2 import MODEL, _conditioning, _run, engine, home  # noqa: F401  (fixtures)


def _official_tokens_out(engine) -> np.ndarray:
    """tokens_out as the official engine computes it from the previous-frame slot."""
    p = tiny.state_numpy(engine, "previous_frame").astype(np.int32).reshape(-1)
    return np.array([p[k] - k * 1024 - 6 for k in range(12)], dtype=np.int32)


def test_tokens_out_are_the_frames_raw_codes(engine):
    for _ in range(4):
        _run(engine, 1)
        tokens = engine.last_tokens()
        np.testing.assert_array_equal(tokens, _official_tokens_out(engine))
        assert tokens.dtype == np.int32 and tokens.min() >= 0 and tokens.max() < 1024


def test_a_prefill_from_captured_tokens_puts_the_same_token_history_in_a_fresh_engine(engine, home):
    captured = []
    for _ in range(8):
        _run(engine, 1)
        captured.append(engine.last_tokens())
    tokens = np.stack(captured)
    branch = Mrt2Engine(MODEL, home)
    try:
        start = int(tiny.state_numpy(branch, "counter")[0])
        live = _conditioning(style_tokens=np.arange(12, dtype=np.int32), drums=1)
        assert branch.prefill_from_tokens(tokens, live=live) == 8
        # no reset first: 7 forced steps on top of where it was; the 8th waits in the slot
        assert int(tiny.state_numpy(branch, "counter")[0]) == start + 7
        np.testing.assert_array_equal(tiny.state_numpy(branch, "echo_forced").reshape(-1),
                                      tokens[6] + np.arange(12) * 1024 + 6)
        np.testing.assert_array_equal(branch.last_tokens(), tokens[-1])  # lossless: the codes themselves
        assert (tiny.state_numpy(branch, "echo_cond")[0, 0] == 6).all(), "style, notes, drums masked"
        after = _run(branch, 3)
        branch.reset()  # the prefill is the checkpoint
        np.testing.assert_array_equal(_run(branch, 3), after)
    finally:
        branch.close()


@pytest.mark.parametrize("tokens", [np.zeros((0, 12), np.int32), np.zeros((3, 11), np.int32),
                                    np.full((2, 12), 1024, np.int32), np.full((2, 12), 0.5),
                                    np.zeros((MAX_TOKEN_PREFILL_FRAMES + 1, 12), np.int32)])
def test_tokens_that_are_no_token_frames_are_refused(engine, tokens):
    with pytest.raises(ValueError, match="prefill tokens"):
        engine.prefill_from_tokens(tokens)


def test_tokens_made_are_each_frames_tokens_out_since_the_music_last_started(engine, monkeypatch):
    """What `/mrt/tokens/save` writes: every frame's tokens out, oldest first, since the last
    reset, the last MAX_TOKEN_PREFILL_FRAMES when there were more (a ring)."""
    engine.reset()
    assert engine.tokens_made().shape == (0, 12)
    seen = []
    for _ in range(5):
        _run(engine, 1)
        seen.append(engine.last_tokens())
    np.testing.assert_array_equal(engine.tokens_made(), np.stack(seen))
    engine.reset()
    assert len(engine.tokens_made()) == 0, "a reset starts the music, and its tokens, again"
    monkeypatch.setattr("mrtd.engines.mrt2.MAX_TOKEN_PREFILL_FRAMES", 3)
    engine._made_tokens = np.zeros((3, 12), np.int32)  # a ring of 3, as the 1,500 one wraps
    seen = []
    for _ in range(7):
        _run(engine, 1)
        seen.append(engine.last_tokens())
    np.testing.assert_array_equal(engine.tokens_made(), np.stack(seen[-3:]))
