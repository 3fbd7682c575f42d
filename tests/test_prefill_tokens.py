"""/mrt/prefill/tokens: the model continued from raw tokens saved as a .npy in the audio folder
(the official lossless branch), through the engine controller as the other prefills; the file is
bounded (size checked before reading, no pickles, int32 [frames, 12], 0-1023, at most 1,500
frames) and refused in one line otherwise; refused on the synth."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

import mrt2_tiny as tiny
from conftest import probed_daemon, wait_for
from mrtd.core import engines as core_engines
from mrtd.core.engines import MAX_TOKEN_FILE_BYTES, read_prefill_tokens
from mrtd.engines.synth import SynthEngine
from test_mrt2 import MODEL


def _tokens(frames: int, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1024, (frames, 12)).astype(np.int32)


def test_a_tokens_file_is_read_bounded_and_refused_in_one_line(tmp_path, monkeypatch):
    good = tmp_path / "good.npy"
    np.save(good, _tokens(1500))
    np.testing.assert_array_equal(read_prefill_tokens(good), _tokens(1500))
    assert good.stat().st_size <= MAX_TOKEN_FILE_BYTES

    files = {"long.npy": _tokens(1501), "float.npy": _tokens(8).astype(np.float32), "int64.npy": _tokens(8).astype(np.int64),
             "wide.npy": np.zeros((8, 13), np.int32), "flat.npy": np.zeros(12, np.int32), "empty.npy": np.zeros((0, 12), np.int32),
             "high.npy": np.full((8, 12), 1024, np.int32), "negative.npy": np.full((8, 12), -1, np.int32)}
    for name, array in files.items():
        np.save(tmp_path / name, array)
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("not an array")
    (tmp_path / "huge.npy").write_bytes(b"\x93NUMPY" + b"\0" * MAX_TOKEN_FILE_BYTES)
    for name in [*files, "pickled.npy", "text.npy", "huge.npy"]:
        with pytest.raises(ValueError) as refused:
            read_prefill_tokens(tmp_path / name)
        assert "\n" not in str(refused.value) and str(refused.value).startswith(name), str(refused.value)

    def unread(*_args, **_kwargs):
        raise AssertionError("a file too large was read")

    monkeypatch.setattr(core_engines.np, "load", unread)
    with pytest.raises(ValueError, match="more than int32"):
        read_prefill_tokens(tmp_path / "huge.npy")


def test_prefill_from_tokens_is_refused_on_the_synth(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    np.save(audio / "take.npy", _tokens(8))
    with probed_daemon(tmp_path, engine=SynthEngine(), audio_dir=str(audio)) as (daemon, _engine, probe):
        playing = daemon.generator.engine
        for args, reason in [(["take.npy"], "needs the mrt2 engine"), (["missing.npy"], "no tokens file"),
                             (["../../etc/passwd"], "outside")]:
            error = probe.request("/mrt/prefill/tokens", "/mrt/error", *args)
            assert reason in error[1], error
        assert daemon.generator.engine is playing


@contextmanager
def tiny_model_daemon(tmp_path, monkeypatch):
    """A daemon playing the tiny mrt2 export (null output), OSC on loopback, the audio folder
    `tmp_path/audio`: yields (daemon, probe, audio folder)."""
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.inputs.osc.server import OscConfig
    from osc_probe import OscProbe

    tiny.export_tiny_model(tmp_path, MODEL)
    audio = tmp_path / "audio"
    audio.mkdir(exist_ok=True)
    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))
    daemon = Daemon(DaemonConfig(engine="mrt2", model=MODEL, output="null", osc=OscConfig(port=0), midi=False,
                                 cache_dir=str(tmp_path / "cache"), audio_dir=str(audio)))
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        yield daemon, probe, audio
    finally:
        probe.close()
        daemon.stop()


def test_prefill_from_tokens_over_osc_on_the_tiny_model(tmp_path, monkeypatch):
    with tiny_model_daemon(tmp_path, monkeypatch) as (daemon, probe, audio):
        np.save(audio / "take.npy", _tokens(20))
        before = daemon.generator.engine
        assert probe.request("/mrt/prefill/tokens", "/mrt/prefilling", "take.npy") == ["take.npy"]
        wait_for(lambda: daemon.generator.engine is not before, 60, "the prefilled copy to take over")
        assert daemon.generator.engine.prefilled_frames == 20
        np.save(audio / "wide.npy", np.zeros((8, 13), np.int32))
        error = probe.request("/mrt/prefill/tokens", "/mrt/error", "wide.npy")
        assert "wide.npy holds int32 [8, 13]" in error[1], error


def _read_when_whole(path) -> np.ndarray | None:
    try:
        return read_prefill_tokens(path)
    except ValueError:  # not there yet, or still being written
        return None


def test_tokens_out_over_osc_are_the_music_made_and_come_back_in_through_a_prefill(tmp_path, monkeypatch):
    """/mrt/tokens/save NAME: the tokens of every frame made since the music started, as a new
    NAME.npy in the audio folder, never over another file; /mrt/prefill/tokens takes them back."""
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "taken.npy").write_bytes(b"yesterday's branch")
    with tiny_model_daemon(tmp_path, monkeypatch) as (daemon, probe, audio):
        wait_for(lambda: daemon.generator.frames > 20, 60, "frames")
        assert probe.request("/mrt/tokens/save", "/mrt/tokens/saving", "branch") == ["branch.npy"]
        wait_for(lambda: _read_when_whole(audio / "branch.npy") is not None, 20, "branch.npy written")
        saved = read_prefill_tokens(audio / "branch.npy")
        engine = daemon.generator.engine
        wait_for(lambda: len(engine.tokens_made()) > len(saved) + 5, 20, "the music to go on")
        assert len(saved) > 20, "every frame up to the save"
        np.testing.assert_array_equal(saved, engine.tokens_made()[: len(saved)])
        for args, reason in [(["branch"], "never written over"), (["taken.npy"], "never written over"),
                             (["../outside"], "outside")]:
            error = probe.request("/mrt/tokens/save", "/mrt/error", *args)
            assert reason in error[1], error
        assert (audio / "taken.npy").read_bytes() == b"yesterday's branch"

        before = daemon.generator.engine
        assert probe.request("/mrt/prefill/tokens", "/mrt/prefilling", "branch.npy") == ["branch.npy"]
        wait_for(lambda: daemon.generator.engine is not before, 60, "the prefilled copy to take over")
        assert daemon.generator.engine.prefilled_frames == len(saved)


def test_tokens_out_is_refused_on_the_synth(tmp_path):
    with probed_daemon(tmp_path, engine=SynthEngine(), audio_dir=str(tmp_path)) as (_daemon, _engine, probe):
        error = probe.request("/mrt/tokens/save", "/mrt/error", "branch")
        assert "needs the mrt2 engine" in error[1], error
    assert not (tmp_path / "branch.npy").exists()
