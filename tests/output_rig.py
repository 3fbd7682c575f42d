"""A private JACK dummy server at any rate and channel count, and what plays on its ports.

The session's `jack_server` fixture runs at 48 kHz with two channels, and
other test sessions may share it. These tests start their own server under
a unique name (`jackd -n`), point PortAudio at it through JACK_DEFAULT_SERVER
and re-scan PortAudio's devices, so the rate and channels are the test's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest


@contextmanager
def private_jack(rate: int, playback_ports: int = 2, period: int = 1024) -> Iterator[str]:
    """Run `jackd -n NAME -d dummy` at `rate`; PortAudio (and jack_* tools) use it inside the block."""
    if shutil.which("jackd") is None:
        pytest.fail("jackd is not installed: apt-get install jackd2 (see .ci/run)")
    name = f"mrtd-test-{os.getpid()}-{rate}-{playback_ports}"
    # The dummy driver sleeps a fixed time per period (default: 1024 frames at 48 kHz):
    # give it the period at this rate, so the server's clock runs at `rate`.
    wait_us = round(period * 1_000_000 / rate)
    command = ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate), "-p", str(period),
               "-P", str(playback_ports), "-w", str(wait_us)]
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    import sounddevice as sd

    try:
        waited = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, text=True)
        if "available" not in waited.stdout:
            pytest.fail(f"jackd -n {name} did not start: {waited.stdout} {waited.stderr}")
        sd._terminate()  # PortAudio lists devices when it initialises: re-scan on this server
        sd._initialize()
        yield name
    finally:
        sd._terminate()  # let go of this server before it goes away
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        sd._initialize()


def jack_connections() -> dict[str, list[str]]:
    """`jack_lsp -c` as {port: [connected ports]} on the current server."""
    lines = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    connections: dict[str, list[str]] = {}
    port = ""
    for line in lines:
        if line.startswith(" "):
            connections[port].append(line.strip())
        else:
            port = line.strip()
            connections[port] = []
    return connections


def jack_record(ports: list[str], seconds: float, path: Path) -> np.ndarray:
    """Record `ports` with jack_rec (a real JACK client) for `seconds`; [n, len(ports)] float in [-1, 1]."""
    subprocess.run(
        ["jack_rec", "-f", str(path), "-d", str(seconds), "-b", "16", *ports],
        capture_output=True, text=True, timeout=seconds + 20, check=True,
    )
    return read_wav(path)


def assert_no_silent_block(heard: np.ndarray, block: int = 256) -> None:
    """Every `block`-sample stretch of `heard` [n, channels] carries sound: a gap the output
    concealed (a fade to silence and back) would leave one silent."""
    usable = len(heard) // block * block
    levels = np.abs(heard[:usable]).reshape(-1, block, heard.shape[1]).max(axis=(1, 2))
    silent = np.flatnonzero(levels == 0.0)
    assert not len(silent), f"{len(silent)} silent blocks of {block} samples, the first at sample {silent[0] * block if len(silent) else 0}"


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        channels = wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return samples.reshape(-1, channels).astype(np.float64) / 32768.0


def dominant_frequency(signal: np.ndarray, rate: int, low_hz: float = 30.0, high_hz: float = 5000.0) -> float:
    """The strongest spectral peak of a mono signal sampled at `rate` (Hz), parabolic-refined."""
    x = np.asarray(signal, dtype=np.float64)
    size = 1 << 19
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=size)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    index = int(np.flatnonzero(band)[np.argmax(spectrum[band])])
    a, b, c = np.log(spectrum[index - 1 : index + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float((index + shift) * (freqs[1] - freqs[0]))


class PlayedTap:
    """`DeviceOutput.played`: keeps the exact blocks handed to PortAudio, in preallocated memory."""

    def __init__(self, seconds: float, rate: int, channels: int) -> None:
        self.buffer = np.zeros((int(seconds * rate), channels), dtype=np.float32)
        self.count = 0

    def __call__(self, block: np.ndarray) -> None:  # runs in the PortAudio callback: copy only
        n = min(len(block), len(self.buffer) - self.count)
        self.buffer[self.count : self.count + n] = block[:n]
        self.count += n

    def audio(self) -> np.ndarray:
        return self.buffer[: self.count]


