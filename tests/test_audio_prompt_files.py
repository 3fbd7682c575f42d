"""Big, cut-short and lying audio files: read only as far as needed, in the reader's process.

A 250 MB WAV that `mrtd check` accepts used to be decoded whole in the daemon
(every frame, then float64): 2.1 GB and 7 underruns for 16-bit stereo, 5.0 GB
and 14 for 8-bit mono. Each big file here is sparse (its first 31 s written, the
rest a hole), made in tmp_path and deleted with it.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.core.engines import PREFILL_AUDIO_NEEDS
from mrtd.style.audio_prompt import MAX_AUDIO_PROMPT_BYTES, probe_audio_file, read_audio_file
from mrtd.style.audio_reader import AudioReader
from mrtd.style.builtin_audio import BuiltinAudioEmbedder
from big_audio import BIG_BYTES, RATE, big_wav, scene_with, tone, wav_header
from test_scene_hostile import reset_peak, rss_bytes

DAEMON_BUDGET = 50 << 20  # what loading the scene may add to the daemon's peak RSS


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", "check", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("channels, width", [(2, 2), (1, 1)], ids=["16-bit stereo", "8-bit mono"])
def test_a_250_mb_audio_prompt_costs_the_daemon_under_50_mb_and_no_underrun(tmp_path, channels, width):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "calm.yaml").write_text("name: calm\nprompts: {a: warm pads}\ncues:\n  - {at: 0, mix: {a: 1}}\n")
    wav = big_wav(folder / "big.wav", channels, width)
    assert wav.stat().st_size == BIG_BYTES
    scene = scene_with(folder, "big.wav")
    assert check(scene).returncode == 0, "mrtd check accepts it: a long file is a valid prompt"
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, scene=str(folder / "calm.yaml"),
                                 scene_dir=str(folder), cache_dir=str(tmp_path / "cache"), record_dir=str(tmp_path / "rec")))
    daemon.start()
    try:
        wait_for(lambda: daemon.status()["frames"] > 25, 20, "a second of music")
        reset_peak()
        before = rss_bytes()
        daemon.scenes.load(scene)
        wait_for(lambda: daemon.control.scene is not None and daemon.scenes.player.prepared.name == "big", 20, "the big scene")
        grown = rss_bytes() - before
        frames = daemon.status()["frames"]
        wait_for(lambda: daemon.status()["frames"] > frames + 25, 20, "a second more of music")
        assert daemon.status()["underruns"] == 0
    finally:
        daemon.stop()
    assert grown < DAEMON_BUDGET, f"loading a {BIG_BYTES >> 20} MiB prompt grew the daemon's peak by {grown >> 20} MiB"
    # What it embedded is the file's opening, as read whole from a 31 s file with the same start.
    small = big_wav(tmp_path / "small.wav", channels, width, total_bytes=44 + int(31.0 * RATE) * channels * width)
    embedded = daemon.scenes.player.prepared.embeddings["take"]
    np.testing.assert_allclose(embedded, BuiltinAudioEmbedder().embed_audio(*read_audio_file(small)), atol=1e-6)
    assert np.linalg.norm(embedded) > 0.5


def test_the_reader_reads_prefills_28_s_of_a_250_mb_file_in_its_own_process_within_its_cap(tmp_path):
    """/mrt/prefill reads through the same helper, asking for the encoder's 28 s at 48 kHz stereo."""
    wav = big_wav(tmp_path / "big.wav", 1, 1)
    reader = AudioReader()
    try:
        reset_peak()
        before = rss_bytes()
        samples, rate = reader.read(wav, PREFILL_AUDIO_NEEDS)
        parent_grown = rss_bytes() - before
        child_peak = _peak_kib(reader.pid) << 10
    finally:
        reader.close()
    assert (rate, samples.shape) == (RATE, (28 * RATE, 2))
    np.testing.assert_allclose(samples[:RATE, 0], tone(1.0), atol=1 / 127)
    assert parent_grown < DAEMON_BUDGET, f"{parent_grown >> 20} MiB"
    assert child_peak < 200 << 20, f"the reader's process peaked at {child_peak >> 20} MiB"


def _peak_kib(pid: int | None) -> int:
    assert pid is not None, "the reader's process should still run"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_cut_short_wav_is_read_with_one_warning_that_check_and_the_daemon_both_give(tmp_path, caplog):
    folder = tmp_path / "scenes"
    folder.mkdir()
    sound = np.round(tone(3.0) * 32767).astype("<i2").tobytes()
    # A crashed recorder's take: the header promises 60 s, the file holds 3 s and half a sample.
    (folder / "cut.wav").write_bytes(wav_header(1, 2, RATE, 60 * RATE * 2) + sound + b"\x01")
    scene = scene_with(folder, "cut.wav")
    result = check(scene)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "cut short" in line]
    assert len(warning) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "promises 60.0 s" in warning[0] and "holds 3.0 s" in warning[0]
    samples, _ = read_audio_file(folder / "cut.wav")
    assert len(samples) == 3 * RATE, "the partial sample at the end is not read"
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, scene=str(scene),
                                 scene_dir=str(folder), cache_dir=str(tmp_path / "cache"), record_dir=str(tmp_path / "rec")))
    with caplog.at_level("WARNING"):
        daemon.start()
        try:
            wait_for(lambda: daemon.control.scene is not None, 20, "the scene")
        finally:
            daemon.stop()
    assert any(record.getMessage() == warning[0] for record in caplog.records), "the daemon says what check said"


@pytest.mark.parametrize("header, says", [
    (wav_header(65535, 1, RATE, 1000), "65535 channels"),
    (wav_header(1, 2, 4_000_000_000, 1000), "4000000000 Hz"),
    (wav_header(1, 2, RATE, 1000)[:-8] + b"data" + struct.pack("<I", 1000), "no samples"),  # a header, no audio
    (wav_header(2, 2, RATE, 1000)[:20] + struct.pack("<H", 3) + wav_header(2, 2, RATE, 1000)[22:] + bytes(1000), "sample format"),
])
def test_check_and_the_reader_refuse_a_lying_header_in_one_line(tmp_path, header, says):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "liar.wav").write_bytes(header)
    result = check(scene_with(folder, "liar.wav"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr, result.stderr
    with pytest.raises(ValueError, match=says):
        read_audio_file(folder / "liar.wav")


def test_a_file_over_the_size_bound_is_refused_by_check_and_the_reader(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    big_wav(folder / "huge.wav", 1, 2, total_bytes=MAX_AUDIO_PROMPT_BYTES + 2)
    result = check(scene_with(folder, "huge.wav"))
    assert result.returncode == 1 and "larger than 256 MiB" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(ValueError, match="larger than 256 MiB"):
        probe_audio_file(folder / "huge.wav")
