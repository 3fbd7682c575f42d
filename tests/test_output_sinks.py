"""Several sinks at once: a recording matches what the device played; a stalled pipe never stalls it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.audio.outputs import DeviceOptions, DeviceOutput
from mrtd.audio.sinks import SinkWriter, PipeDestination
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from conftest import wait_for
from output_rig import PlayedTap, private_jack, read_wav


def _config(tmp_path, *outputs: str) -> DaemonConfig:
    # The "safe" preset's lead (240 ms): these tests compare what was played with what was written,
    # and a shared 2-core CI box can stall the generator for longer than the default 120 ms.
    return DaemonConfig(
        engine="synth", prompt="warm analog pads", osc=None, midi=False, cache_dir=str(tmp_path), outputs=list(outputs),
        lead_frames=6,
    )


def test_a_recording_taken_live_matches_what_the_device_played(tmp_path):
    take = tmp_path / "take.wav"
    with private_jack(SAMPLE_RATE):
        device = DeviceOutput(options=DeviceOptions())
        tap = PlayedTap(seconds=10, rate=SAMPLE_RATE, channels=2)
        device.played = tap
        daemon = Daemon(_config(tmp_path, f"wav:{take}"), output=device)
        daemon.start()
        try:
            wait_for(lambda: tap.count >= 5 * SAMPLE_RATE, 30, "5 s on the device")
            daemon.audio.stop_master()  # freeze the device stream before reading the offsets
            played_from_ring = daemon.audio.ring.read_position
            status = daemon.status()
        finally:
            daemon.stop()
    played = tap.audio()
    assert status["underruns"] == 0, status
    # The device plays silence until the first cushion has arrived (if it starts before
    # it has), then the ring from sample 0, without a gap.
    offset = len(played) - played_from_ring
    assert offset >= 0 and not played[:offset].any()
    recorded = read_wav(take) * (32768 / 32767)  # the sink writes round(x * 32767)
    assert len(recorded) >= played_from_ring, "the recording has every frame the device played"
    # Skip the playout's 5 ms fade-in (the device starts from silence, the file does not).
    start = 240
    device_stream = played[offset + start : offset + played_from_ring]
    assert np.abs(recorded[start:played_from_ring] - device_stream).max() <= 0.5 / 32767 + 1e-7, "same samples, aligned"
    assert np.abs(device_stream).max() > 0.05, "there is music in it"
    assert status["sinks"] == {f"wav:{take}": 0} and status["sink_drops"] == 0


def test_a_fifo_nobody_reads_and_a_stopped_reader_never_stall_the_device(tmp_path):
    unread = tmp_path / "unread.fifo"
    stalled = tmp_path / "stalled.fifo"
    os.mkfifo(unread)
    os.mkfifo(stalled)
    reader = subprocess.Popen(["cat", str(stalled)], stdout=subprocess.DEVNULL)
    with private_jack(SAMPLE_RATE):
        daemon = Daemon(_config(tmp_path, f"pipe:{unread}", f"pipe:f32le:{stalled}"))
        daemon.start()
        try:
            assert daemon.output.describe().startswith("device:")
            stalled_sink = daemon.audio.sinks[1]
            wait_for(lambda: stalled_sink.written_samples > SAMPLE_RATE // 2, 10, "the reader to take some audio")
            reader.send_signal(signal.SIGSTOP)  # the reader stalls: its pipe fills, then our buffer
            wait_for(lambda: daemon.playout.samples_out >= 6 * SAMPLE_RATE, 30, "6 s on the device")
            status = daemon.status()
        finally:
            reader.send_signal(signal.SIGCONT)
            reader.kill()
            reader.wait(5)
            daemon.stop()
    assert status["underruns"] == 0, status
    sinks = status["sinks"]
    assert sinks[f"pipe:{unread}"] > SAMPLE_RATE, "the unread FIFO's drops are counted"
    assert sinks[f"pipe:f32le:{stalled}"] > SAMPLE_RATE, "the stopped reader's drops are counted"
    assert status["sink_drops"] >= 2 * SAMPLE_RATE // FRAME_SAMPLES


def test_a_full_sink_buffer_drops_whole_blocks_and_counts_them(tmp_path):
    path = tmp_path / "never.fifo"
    os.mkfifo(path)
    sink = SinkWriter("pipe:never", PipeDestination(str(path)), buffer_seconds=0.1)  # 4800 samples
    sink.start()
    block = np.full((FRAME_SAMPLES, 2), 0.25, np.float32)
    started = time.monotonic()
    for _ in range(10):
        sink.offer(block)
    assert time.monotonic() - started < 0.05, "offer never waits"
    sink.stop()
    assert (sink.dropped_blocks, sink.dropped_samples) == (8, 8 * FRAME_SAMPLES)


def test_cli_plays_to_a_wav_and_stdout_at_once(tmp_path):
    take = tmp_path / "take.wav"
    result = subprocess.run(
        [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--seconds", "1.5",
         "--output", f"wav:{take}", "--output", "pipe:-", "--prompt", "bright piano"],
        capture_output=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    piped = np.frombuffer(result.stdout, dtype="<i2").reshape(-1, 2)
    recorded = read_wav(take)
    assert abs(len(recorded) / SAMPLE_RATE - 1.5) < 0.15
    assert len(piped) >= len(recorded) - FRAME_SAMPLES, (len(piped), len(recorded))
    # The pipe carries the generated frames; the WAV (the clock master) the same music.
    assert np.abs(piped).max() > 1000
    assert b"also pipe:-" in result.stderr


def test_a_flac_recording_holds_the_same_music_as_a_wav_beside_it(tmp_path):
    import soundfile

    take, flac = tmp_path / "take.wav", tmp_path / "take.flac"
    result = subprocess.run(
        [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--seconds", "1.5", "--no-osc", "--no-midi",
         "--output", "null", "--output", f"wav:{take}", "--output", f"flac:{flac}", "--prompt", "warm pads"],
        capture_output=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    info = soundfile.info(str(flac))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 2, "PCM_24")
    lossless, _ = soundfile.read(str(flac), dtype="float32")
    recorded = read_wav(take)
    n = min(len(lossless), len(recorded))
    assert n > SAMPLE_RATE and abs(len(lossless) - len(recorded)) <= FRAME_SAMPLES
    # Both sinks carry the generated frames: equal up to 16-bit rounding in the WAV.
    assert np.abs(lossless[:n] - recorded[:n]).max() <= 1.5 / 32768
