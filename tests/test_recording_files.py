"""Recordings never overwrite anything, never follow a symlink, and stay readable after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import wave

import numpy as np
import pytest

from mrtd.audio.sinks import open_sink
from mrtd.audio.wavfile import SYNC_EVERY_S, GrowingWav, create_unused
from mrtd.frame import SAMPLE_RATE
from conftest import probed_daemon, wait_for


def _frames(path) -> int:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, SAMPLE_RATE, 2)
        return wav.getnframes()


def test_the_same_take_name_twice_gets_a_new_file_and_the_sender_is_told(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        assert probe.request("/mrt/record/start", "/mrt/record/started", "take1") == ["take1.wav"]
        wait_for(lambda: daemon.recorder._sink.written_samples >= 3 * 1920, 10, "three frames on disk")
        assert probe.request("/mrt/record/stop", "/mrt/record/stopped") == ["take1.wav"]
        first = (tmp_path / "recordings" / "take1.wav").read_bytes()
        assert probe.request("/mrt/record/start", "/mrt/record/started", "take1") == ["take1-2.wav"]
        assert probe.request("/mrt/record/stop", "/mrt/record/stopped") == ["take1-2.wav"]
    assert (tmp_path / "recordings" / "take1.wav").read_bytes() == first, "the first take is untouched"
    assert _frames(tmp_path / "recordings" / "take1.wav") >= 3 * 1920


@pytest.mark.parametrize("name, reason", [
    ("a/b", "no folders"),
    ("a\\b", "no folders"),
    ("..", "cannot start with ."),
    ("x..y", "hold .."),
    (".hidden", "cannot start with ."),
    ("bell\x07", "control character"),
    ("line\nbreak", "control character"),
    ("x" * 121, "at most 120"),
])
def test_a_recording_name_that_is_not_a_plain_name_is_refused_with_the_reason(tmp_path, name, reason):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        error = probe.request("/mrt/record/start", "/mrt/error", name)
        assert error[0] == "/mrt/record/start" and reason in error[1], error
        assert not daemon.recorder.recording
    assert not any((tmp_path / "recordings").rglob("*")), "nothing was created"


def test_a_symlink_in_the_recording_folder_is_never_followed(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "take.wav").symlink_to(outside)
    (folder / "dangling.wav").symlink_to(tmp_path / "would-be-created.wav")
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        assert probe.request("/mrt/record/start", "/mrt/record/started", "take") == ["take-2.wav"]
        probe.request("/mrt/record/stop", "/mrt/record/stopped")
        assert probe.request("/mrt/record/start", "/mrt/record/started", "dangling") == ["dangling-2.wav"]
        probe.request("/mrt/record/stop", "/mrt/record/stopped")
    assert outside.read_text() == "keep me"
    assert not (tmp_path / "would-be-created.wav").exists()
    assert (folder / "take.wav").is_symlink() and not (folder / "take-2.wav").is_symlink()
    assert (folder / "take-2.wav").read_bytes()[:4] == b"RIFF"


def test_output_wav_over_an_existing_file_writes_a_new_one_and_says_so(tmp_path, caplog):
    earlier = tmp_path / "out.wav"
    earlier.write_bytes(b"an earlier take")
    sink = open_sink(f"wav:{earlier}")
    sink.start()
    sink.offer(np.full((4800, 2), 0.25, dtype=np.float32))
    sink.stop()
    assert earlier.read_bytes() == b"an earlier take"
    assert sink.name == f"wav:{tmp_path / 'out-2.wav'}", "status names the file actually written"
    assert _frames(tmp_path / "out-2.wav") == 4800
    assert any("already exists; writing" in r.getMessage() and "out-2.wav" in r.getMessage() for r in caplog.records)


def test_two_takes_racing_for_one_name_get_two_files(tmp_path):
    first, fd1 = create_unused(tmp_path / "t.wav")
    second, fd2 = create_unused(tmp_path / "t.wav")
    os.close(fd1), os.close(fd2)
    assert (first.name, second.name) == ("t.wav", "t-2.wav")


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from mrtd.audio.sinks import SinkWriter, WavDestination
    path, seconds = sys.argv[1], float(sys.argv[2])
    wav = WavDestination(path)
    sink = SinkWriter("wav", wav, buffer_seconds=seconds + 1)
    sink.start()
    total = int(seconds * 48000)
    t = np.arange(total) / 48000
    block = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32) * 0.5
    sink.offer(block)
    # Hold the file open, as a daemon would, until the header has caught up with the data.
    while wav._file.header_frames < total:
        time.sleep(0.05)
    print("header", wav._file.header_frames, flush=True)
    time.sleep(600)
""")


def test_a_wav_from_a_killed_writer_reads_back_with_its_real_length(tmp_path):
    path = tmp_path / "killed.wav"
    seconds = 3.0
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    guard = threading.Timer(60, child.kill)  # a header that never catches up fails, not hangs
    guard.start()
    try:
        line = child.stdout.readline()
        assert line.startswith("header"), line
    finally:
        guard.cancel()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL, "it never reached close()"
    assert _frames(path) == int(seconds * SAMPLE_RATE)
    with wave.open(str(path)) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert abs(audio.max() / 32767 - 0.5) < 0.01, "the tone is in it"
    import soundfile  # the test extra
    assert soundfile.info(str(path)).frames == int(seconds * SAMPLE_RATE)


def test_the_header_follows_the_data_on_an_injected_clock(tmp_path):
    now = [0.0]
    fd = os.open(tmp_path / "g.wav", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    wav = GrowingWav(fd, clock=lambda: now[0], update_s=1.0)
    block = np.zeros((48000, 2), dtype=np.float32)
    wav.write(block)
    assert wav.header_frames == 0, "not yet a second since the last update"
    now[0] = 1.0
    wav.write(block)
    assert wav.header_frames == 96000 and _frames(tmp_path / "g.wav") == 96000
    wav.write(block[:100])
    wav.close()
    assert _frames(tmp_path / "g.wav") == 96100


def test_a_take_is_put_on_the_disk_every_few_seconds_and_at_its_end_and_its_name_at_once(tmp_path, monkeypatch):
    """A power cut loses what the system had not written back yet (up to 30 s on Linux), and a new
    file's name when its folder was not synced: a take loses at most SYNC_EVERY_S."""
    synced: list[tuple[str, int]] = []  # (what was synced, its bytes then)
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size)))
    path, fd = create_unused(tmp_path / "take.wav")
    assert [name for name, _ in synced] == [str(tmp_path)], "the folder, for the new name"
    synced.clear()
    now = [0.0]
    wav = GrowingWav(fd, clock=lambda: now[0])
    second = np.zeros((48000, 2), dtype=np.float32)
    for _ in range(int(SYNC_EVERY_S) - 1):
        now[0] += 1.0
        wav.write(second)
    assert synced == [], "not yet"
    now[0] += 1.0
    wav.write(second)
    assert synced == [(str(path), os.fstat(fd).st_size)], f"on the disk after {SYNC_EVERY_S} s"
    wav.write(second[:100])
    size = os.fstat(fd).st_size
    wav.close()
    assert synced[1:] == [(str(path), size)], "and its end, header included, at close"


def test_past_4_gib_the_header_becomes_rf64(tmp_path):
    """The size fields overflow at 4 GiB: the header switches to RF64 with 64-bit sizes (sparse file)."""
    import struct

    fd = os.open(tmp_path / "big.wav", os.O_RDWR | os.O_CREAT | os.O_EXCL)
    wav = GrowingWav(fd)
    wav.data_bytes = (1 << 32) + 4 * 1000  # as if 4 GiB + 1000 frames had been written
    wav.update_header()
    header = os.pread(fd, 80, 0)
    wav.close()
    assert header[:4] == b"RF64" and header[12:16] == b"ds64"
    riff, data, frames = struct.unpack("<QQQ", header[20:44])
    assert (data, frames, riff) == ((1 << 32) + 4000, ((1 << 32) + 4000) // 4, (1 << 32) + 4000 + 72)
    assert struct.unpack("<I", header[76:80])[0] == 0xFFFFFFFF
