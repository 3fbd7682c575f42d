"""OSC throughput, control-to-audio latency and timetag accuracy, on the synth engine.

    .venv/bin/python benchmarks/bench_osc.py [--seconds 3] [--lead 3]

Runs a real daemon (synth engine, real-time paced null sink) with OSC on
loopback. A separate process floods it to find the sustained message rate.
Latency is measured from packet arrival at the server to the moment the
first changed output sample is heard (the output clock of that frame).
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from mrtd.app.daemon import Daemon, DaemonConfig  # noqa: E402
from mrtd.audio.outputs import NullOutput  # noqa: E402
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE  # noqa: E402
from mrtd.inputs.osc.server import OscConfig  # noqa: E402


def msg(address: str, value: float) -> bytes:
    builder = OscMessageBuilder(address=address)
    builder.add_arg(float(value), "f")
    return builder.build().dgram


class HeardClock(NullOutput):
    """The null sink, remembering which ring sample it played when."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[tuple[int, float]] = []

    def _consume(self, block: np.ndarray) -> None:
        self.heard.append(self.playout.clock)

    def time_heard(self, ring_sample: int) -> float | None:
        for position, at in self.heard:
            if position >= ring_sample:
                return at - (position - ring_sample) / SAMPLE_RATE
        return None


def _flood(port: int, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packets = [msg("/mrt/cfg/style", v) for v in np.linspace(-1, 7, 1000)]
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        for _ in range(64):
            sock.sendto(packets[i % 1000], ("127.0.0.1", port))
            i += 1
        time.sleep(0.0005)  # let the receiver drain its socket buffer


def throughput(daemon: Daemon, seconds: float) -> float:
    counters = daemon.osc.counters
    before, started = counters.messages, time.monotonic()
    sender = multiprocessing.Process(target=_flood, args=(daemon.osc.port, seconds))
    sender.start()
    sender.join()
    return (counters.messages - before) / (time.monotonic() - started)


def latency(daemon: Daemon, sink: HeardClock, count: int) -> list[float]:
    arrivals: dict[float, float] = {}
    applied: dict[float, int] = {}
    daemon.osc.on_message = lambda address, sender: arrivals.setdefault(len(arrivals), time.monotonic())
    previous = daemon.generator.after_commands

    def note_frame(control) -> None:
        value = round(control.values["temperature"], 4)  # OSC floats are float32
        applied.setdefault(value, daemon.generator.frames)
        previous(control)

    daemon.generator.after_commands = note_frame
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    values = [round(0.01 + i * (2.9 / count), 4) for i in range(count)]
    arrival_of: dict[float, float] = {}
    for value in values:
        index = len(arrivals)
        sock.sendto(msg("/mrt/temperature", value), ("127.0.0.1", daemon.osc.port))
        deadline = time.monotonic() + 2
        while len(arrivals) <= index and time.monotonic() < deadline:
            time.sleep(0.0005)
        arrival_of[value] = arrivals.get(index, float("nan"))
        time.sleep(0.041 + (index % 7) * 0.0057)  # one per frame, at every phase of the frame
    time.sleep(0.5)
    daemon.generator.after_commands = previous
    out = []
    for value in values:
        frame = applied.get(value)
        if frame is None:
            continue
        heard = sink.time_heard(frame * FRAME_SAMPLES)
        if heard is not None:
            out.append((heard - arrival_of[value]) * 1000.0)
    return out


def timetag_error(daemon: Daemon, sink: HeardClock, count: int) -> list[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    errors = []
    seen: dict[float, int] = {}
    previous = daemon.generator.after_commands

    def note_frame(control) -> None:
        seen.setdefault(round(control.values["cfg_notes"], 4), daemon.generator.frames)
        previous(control)

    daemon.generator.after_commands = note_frame
    rng = np.random.default_rng(3)
    for i in range(count):
        value = round(-0.9 + i * 7.5 / count, 4)
        wall = time.time() + 0.25 + rng.random() * 0.1
        mono = wall - time.time() + time.monotonic()
        builder = OscBundleBuilder(wall)
        builder.add_content(OscMessage(msg("/mrt/cfg/notes", value)))
        sock.sendto(builder.build().dgram, ("127.0.0.1", daemon.osc.port))
        time.sleep(0.45)
        frame = seen.get(value)
        heard = [p for p in sink.heard if p[1] <= mono]
        if frame is None or not heard:
            continue
        position, at = heard[-1]
        truth = int((position + (mono - at) * SAMPLE_RATE) // FRAME_SAMPLES)
        errors.append(frame - truth)
    daemon.generator.after_commands = previous
    return errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--lead", type=int, default=3)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()

    sink = HeardClock()
    daemon = Daemon(DaemonConfig(engine="synth", lead_frames=args.lead, osc=OscConfig(port=0), prompt="warm pads"), output=sink)
    daemon.start()
    try:
        time.sleep(0.5)
        rate = throughput(daemon, args.seconds)
        lat = latency(daemon, sink, args.count)
        tags = timetag_error(daemon, sink, max(10, args.count // 10))
        status = daemon.status()
    finally:
        daemon.stop()
    q = statistics.quantiles(lat, n=100)
    print(f"OSC messages/s sustained:        {rate:,.0f}")
    print(f"control-to-audio latency (ms):   p50 {statistics.median(lat):.1f}  p99 {q[98]:.1f}  (lead {args.lead} frames = {args.lead * 40} ms, n={len(lat)})")
    print(f"timetag error (frames):          max |err| {max(abs(e) for e in tags)}  mean {statistics.mean(tags):+.2f}  (n={len(tags)})")
    print(f"underruns during the run:        {status['underruns']}")


if __name__ == "__main__":
    main()
