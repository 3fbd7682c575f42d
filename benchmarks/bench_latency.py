"""Control-to-sound latency of each `--latency` preset through a real PortAudio device, beside the
frame leads the daemon had before frames were made just in time, in one run.

    .venv/bin/python benchmarks/bench_latency.py [--count 100] [--rate 48000] [--period 256]
                                                 [--baseline REV | --no-baseline]

Starts a private JACK dummy server (`jackd -n NAME -R`, real-time paced) at --rate with --period frames
per period. Each configuration runs in its own process (the daemon with the synth engine, OSC on
loopback): this tree's presets (`low`, `balanced`, `safe`, each a margin in milliseconds), then the
same preset names in the tree at --baseline (default BASELINE: the last commit with frame leads,
where they meant 2, 3 and 6 whole frames ahead), its code taken with `git archive`.

Two measurements per configuration:
- untimed /mrt/temperature messages sent at every phase of the frame: from the packet's arrival at
  the server to the moment the first sample of the frame that carries it reaches the DAC;
- timetagged bundles, tagged as soon as the configuration says it can play them (its own
  `control_latency_ms` as it stands when each is sent; the old trees: their lead plus a frame plus
  the device's latency), plus SEND_ALLOWANCE_S: the same arrival-to-sound time, and how many frames
  off the frame heard at the tag they landed (0), and how many the daemon counted late.

When a frame starts, its first sample's time at the DAC is computed from the playout's clock of
that moment (PortAudio's outputBufferDacTime), so the figure includes the lead or margin, the
device buffer and, at rates other than 48 kHz, the resampler's look-ahead. Playout underruns (the
ring ran dry) and device underruns (the server's own xruns, which no pacing can prevent) are
counted apart. Without jackd it measures the null sink (no device buffer).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "a31d2e6"  # the last commit whose runner kept whole frames ahead (issue 30 changed that)
PRESETS = ("low", "balanced", "safe")
SETTLE_LIMIT_S = 40.0
SEND_ALLOWANCE_S = 0.002  # a timetag this much past the promise: the packet's way from the socket to the schedule


def start_jack(rate: int, period: int) -> subprocess.Popen | None:
    if shutil.which("jackd") is None:
        return None
    name = f"mrtd-bench-{os.getpid()}"
    wait_us = round(period * 1_000_000 / rate)
    # Real-time scheduling, as on an audio machine and as the tests' server (root may; where it may
    # not, jackd carries on without): without it a busy machine delays the server's own cycles.
    process = subprocess.Popen(
        ["jackd", "-n", name, "-R", "-P", "70", "-d", "dummy", "-r", str(rate), "-p", str(period), "-w", str(wait_us)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"},
    )
    os.environ["JACK_DEFAULT_SERVER"] = name
    waited = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, text=True)
    if "available" not in waited.stdout:
        process.kill()
        return None
    return process


# -- one configuration, in its own process, against whichever tree is on its path ---------------


def _message(address: str, value: float) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    builder.add_arg(float(value), "f")
    return builder.build().dgram


def _bundle(timetag: float, dgram: bytes) -> bytes:
    from pythonosc.osc_bundle_builder import OscBundleBuilder
    from pythonosc.osc_message import OscMessage

    builder = OscBundleBuilder(timetag)
    builder.add_content(OscMessage(dgram))
    return builder.build().dgram


def measure(preset: str, output: str, count: int) -> dict:
    """Runs one daemon; both measurements; a dict for the parent."""
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.audio.clock import FrameClock
    from mrtd.inputs.osc.server import OscConfig

    daemon = Daemon(DaemonConfig(engine="synth", output=output, latency=preset, osc=OscConfig(port=0), midi=False,
                                 prompt="warm pads"))
    daemon.start()
    arrivals: list[float] = []
    heard: dict[int, float] = {}  # frame -> wall time its first sample reaches the DAC, as the clock says then
    first_frame_of: dict[float, int] = {}  # temperature value -> the first frame made with it
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        time.sleep(1.0)  # the first cushion
        # Just in time, the pacing assumes a step may take a frame until it has watched the machine
        # for its window (20 s); a user hears it settled, and so is it measured (old trees: no pacing).
        pacing = getattr(daemon.runner, "pacing", None)
        deadline = time.monotonic() + SETTLE_LIMIT_S
        while pacing is not None and not pacing.settled and time.monotonic() < deadline:
            time.sleep(0.1)
        clock = FrameClock(daemon.playout, lambda: daemon.output.time())
        previous = daemon.generator.after_commands

        def note_frame(control) -> None:  # the generation thread, as frame k starts
            frame = daemon.generator.frames
            heard[frame] = clock.wall_time_of_frame(frame)
            first_frame_of.setdefault(round(control.values["temperature"], 4), frame)
            previous(control)

        daemon.generator.after_commands = note_frame
        arrived = threading.Semaphore(0)

        def note_arrival(address, sender) -> None:  # the OSC thread, as each message arrives
            arrivals.append(time.time())
            arrived.release()

        daemon.osc.on_message = note_arrival

        status = daemon.status()
        old_promise_s = ((status["lead_frames"] + 1) * 40.0 + daemon.output.latency * 1000.0) / 1000.0

        def promised_s() -> float:
            """As soon as the configuration says a command can be heard (what /mrt/status says as
            `control_latency_ms`, asked of the runner: a whole status per bundle would take the GIL
            from the generation thread it measures), plus SEND_ALLOWANCE_S."""
            says = getattr(daemon.runner, "control_latency_s", None)
            return (says() if says is not None else old_promise_s) + SEND_ALLOWANCE_S

        def send(packet: bytes) -> float:
            """Send and wait for its arrival on a semaphore: polling for it would take the GIL from
            the generation thread every half millisecond, which a sender in another process never does."""
            index = len(arrivals)
            sock.sendto(packet, ("127.0.0.1", daemon.osc.port))
            arrived.acquire(timeout=2)
            return arrivals[index]

        untimed = [round(0.01 + i * (1.4 / count), 4) for i in range(count)]
        timed = [round(1.5 + i * (1.4 / count), 4) for i in range(count)]
        arrival_of: dict[float, float] = {}
        tag_of: dict[float, float] = {}
        for index, value in enumerate(untimed):
            arrival_of[value] = send(_message("/mrt/temperature", value))
            time.sleep(0.041 + (index % 7) * 0.0057)  # every phase of the frame
        late_before = daemon.control.late
        offsets = []
        for index, value in enumerate(timed):
            offsets.append(promised_s())
            tag_of[value] = time.time() + offsets[-1]
            arrival_of[value] = send(_bundle(tag_of[value], _message("/mrt/temperature", value)))
            time.sleep(0.041 + (index % 7) * 0.0057)
        time.sleep(0.6)
        daemon.generator.after_commands = previous
        late = daemon.control.late - late_before
        status = daemon.status()
        device_latency_ms = daemon.output.latency * 1000.0
        playout_underruns = daemon.playout.underruns
        device_underruns = daemon.output.device_underruns
    finally:
        sock.close()
        daemon.stop()
    frames = sorted(heard)

    def covering(wall: float) -> int:
        """The frame heard at wall time `wall`."""
        return max(k for k in frames if heard[k] <= wall)

    untimed_ms = [(heard[first_frame_of[v]] - arrival_of[v]) * 1000.0 for v in untimed if v in first_frame_of]
    timed_ms = [(heard[first_frame_of[v]] - arrival_of[v]) * 1000.0 for v in timed if v in first_frame_of]
    misses = [first_frame_of[v] - covering(tag_of[v]) for v in timed if v in first_frame_of]
    return {
        "untimed_ms": untimed_ms, "timed_ms": timed_ms, "timed_misses": misses, "timed_late": late,
        "promised_ms": statistics.median(offsets) * 1000.0, "device_latency_ms": device_latency_ms,
        "playout_underruns": playout_underruns, "device_underruns": device_underruns,
        "margin_ms": status.get("margin_ms"), "lead_frames": status.get("lead_frames"),
        "resampler": status.get("resampler"), "load": os.getloadavg()[0],
    }


# -- the parent: one JACK server, one process per configuration -------------------------------------


def baseline_tree(revision: str, into: Path) -> Path:
    """The daemon package as it was at `revision` (git archive), under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "daemon"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "daemon"


def run_one(daemon_path: Path, preset: str, output: str, count: int) -> dict:
    """One configuration in its own process; once more if no message was seen to land (seen now
    and then with the old trees: the run says nothing then, and the next one does)."""
    env = {**os.environ, "PYTHONPATH": str(daemon_path)}
    for _ in range(2):
        done = subprocess.run([sys.executable, __file__, "--worker", preset, "--output", output, "--count", str(count)],
                              capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"{preset} at {daemon_path}: {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["untimed_ms"]:
            break
    return result


def p50_p99(values: list[float]) -> str:
    if len(values) < 2:
        return "  n/a"
    q = statistics.quantiles(values, n=100)
    return f"{statistics.median(values):6.1f} / {q[98]:6.1f}"


def row(name: str, result: dict) -> str:
    misses = result["timed_misses"]
    off = sum(1 for m in misses if m != 0)
    pacing = (f"margin {result['margin_ms']:g} ms" if result["margin_ms"] is not None
              else f"lead {result['lead_frames']} frames")
    return (f"| {name} | {pacing} | {p50_p99(result['untimed_ms'])} | {p50_p99(result['timed_ms'])} "
            f"(tag +{result['promised_ms']:.0f}) | {off} of {len(misses)} (late {result['timed_late']}) | "
            f"{result['playout_underruns']} / {result['device_underruns']} | {result['device_latency_ms']:.1f} | "
            f"{result['load']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--period", type=int, default=256)
    parser.add_argument("--baseline", default=BASELINE, help="the revision the frame leads are measured at")
    parser.add_argument("--no-baseline", action="store_true", help="only this tree's presets")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--output", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.output, args.count)))
        return

    jack = start_jack(args.rate, args.period)
    output = "default" if jack is not None else "null"
    where = f"JACK dummy {args.rate} Hz, {args.period}-frame period" if jack else "null sink (no jackd)"
    print(f"control to sound, {where}, synth, {args.count} untimed messages and {args.count} timetagged bundles each; "
          f"load average at the start {os.getloadavg()[0]:.1f} (2-core machine: {os.cpu_count()} CPUs)")
    print("| configuration | pacing | untimed p50 / p99 ms | timetagged p50 / p99 ms | timetagged off their frame "
          "| underruns playout / device | device ms | load |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            trees = [("now", ROOT / "daemon")]
            if not args.no_baseline:
                trees.append((f"frame lead ({args.baseline})", baseline_tree(args.baseline, Path(scratch))))
            for preset in args.presets:  # side by side: each preset now, then as it was
                for label, tree in trees:
                    print(row(f"{preset} {label}", run_one(tree, preset, output, args.count)), flush=True)
    finally:
        if jack is not None:
            jack.terminate()
            jack.wait(5)


if __name__ == "__main__":
    main()
