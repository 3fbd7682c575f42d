"""Control-to-audio latency of each `--latency` preset, through a real PortAudio device.

    .venv/bin/python benchmarks/bench_latency.py [--count 100] [--rate 48000] [--period 256]

Starts a private JACK dummy server (`jackd -n`, real-time paced) at --rate
with --period frames per period, then for each preset runs the daemon (synth
engine) with OSC on loopback and sends untimed /mrt/temperature messages at
every phase of the frame. Latency is from the packet's arrival at the server
to the moment the first sample of the frame that carries it reaches the DAC
(PortAudio's outputBufferDacTime, through the frame clock), so it includes
the lead, the resampler's look-ahead (at rates other than 48 kHz) and the
device buffer. Without jackd it measures the null sink (no device buffer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

from mrtd.app.daemon import Daemon, DaemonConfig  # noqa: E402
from mrtd.audio.outputs import LATENCY_PRESETS  # noqa: E402
from mrtd.inputs.osc.server import OscConfig  # noqa: E402
from mrtd.audio.clock import FrameClock  # noqa: E402


def message(address: str, value: float) -> bytes:
    builder = OscMessageBuilder(address=address)
    builder.add_arg(float(value), "f")
    return builder.build().dgram


def start_jack(rate: int, period: int) -> subprocess.Popen | None:
    if shutil.which("jackd") is None:
        return None
    name = f"mrtd-bench-{os.getpid()}"
    wait_us = round(period * 1_000_000 / rate)
    process = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate), "-p", str(period), "-w", str(wait_us)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"},
    )
    os.environ["JACK_DEFAULT_SERVER"] = name
    waited = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, text=True)
    if "available" not in waited.stdout:
        process.kill()
        return None
    return process


def measure(preset: str, output: str, count: int) -> tuple[list[float], dict]:
    daemon = Daemon(DaemonConfig(engine="synth", output=output, latency=preset, osc=OscConfig(port=0), midi=False,
                                 prompt="warm pads"))
    daemon.start()
    arrivals: list[float] = []
    applied: dict[float, int] = {}
    try:
        time.sleep(0.5)
        daemon.osc.on_message = lambda address, sender: arrivals.append(time.time())
        previous = daemon.generator.after_commands

        def note_frame(control) -> None:
            applied.setdefault(round(control.values["temperature"], 4), daemon.generator.frames)
            previous(control)

        daemon.generator.after_commands = note_frame
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        values = [round(0.01 + i * (2.9 / count), 4) for i in range(count)]
        arrival_of: dict[float, float] = {}
        for index, value in enumerate(values):
            sock.sendto(message("/mrt/temperature", value), ("127.0.0.1", daemon.osc.port))
            deadline = time.monotonic() + 2
            while len(arrivals) <= index and time.monotonic() < deadline:
                time.sleep(0.0005)
            arrival_of[value] = arrivals[index]
            time.sleep(0.041 + (index % 7) * 0.0057)  # every phase of the frame
        time.sleep(0.6)
        daemon.generator.after_commands = previous
        clock = FrameClock(daemon.playout, daemon.output.time)
        latencies = [
            (clock.wall_time_of_frame(applied[value]) - arrival_of[value]) * 1000.0
            for value in values
            if value in applied
        ]
        status = daemon.status()
        status["device_latency_ms"] = daemon.output.latency * 1000.0
    finally:
        daemon.stop()
    return latencies, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--period", type=int, default=256)
    args = parser.parse_args()

    jack = start_jack(args.rate, args.period)
    output = "default" if jack is not None else "null"
    where = f"JACK dummy {args.rate} Hz, {args.period}-frame period" if jack else "null sink (no jackd)"
    print(f"control-to-audio latency, {where}")
    try:
        for preset in LATENCY_PRESETS:
            latencies, status = measure(preset, output, args.count)
            q = statistics.quantiles(latencies, n=100)
            print(
                f"  {preset:<9} lead {status['lead_frames']} frames: p50 {statistics.median(latencies):6.1f} ms"
                f"  p99 {q[98]:6.1f} ms  (device buffer {status['device_latency_ms']:.1f} ms,"
                f" resampler {status['resampler']}, underruns {status['underruns']}, n={len(latencies)})"
            )
    finally:
        if jack is not None:
            import sounddevice

            sounddevice._terminate()  # let go of the server first: PortAudio asserts if it vanishes
            jack.terminate()
            jack.wait(5)


if __name__ == "__main__":
    main()
