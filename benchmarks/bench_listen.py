"""Listening: the analysis's cost per 40 ms frame on one core, and underruns on JACK with listening on.

    .venv/bin/python benchmarks/bench_listen.py [--seconds 30] [--no-jack]

1. `ListenAnalysis` (aubio onsets and pitch, the pitch spectrum and chord templates, the
   tempo estimate) over generated input, pinned to one core: ms per frame (four 10 ms hops),
   mean, p50, p99 and max, per kind of input. Target: 2 ms per frame.
2. A daemon on a private JACK dummy server (256-frame period), the synth playing to JACK and
   listening to a second JACK client that plays a C-F-G-C progression into `mrtd:listen_L/R`,
   following notes, tempo and style: underruns (ring gaps + server xruns), capture overruns,
   the analysis latency (a hop's last sample in, its commands out) p50/p99 and its cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "tests"))

from listen_signals import RATE, clicks, melody, noise, progression  # noqa: E402

from mrtd.inputs.listen.analysis import ListenAnalysis  # noqa: E402


def pin() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    os.sched_setaffinity(0, {0})
    return "pinned to core 0"


def frame_costs(audio: np.ndarray) -> np.ndarray:
    analysis = ListenAnalysis(RATE, lambda position: position / RATE)
    analysis.notes.enabled = True
    analysis.follow_tempo = True
    stereo = np.repeat(audio.astype(np.float32)[:, None], 2, axis=1)
    hop = analysis.hop
    per_hop = []
    clock = time.perf_counter
    for start in range(0, len(stereo) - hop + 1, hop):
        block = stereo[start : start + hop]
        began = clock()
        analysis.process(block)
        per_hop.append(clock() - began)
    hops = np.array(per_hop[: len(per_hop) // 4 * 4]) * 1000.0
    return hops.reshape(-1, 4).sum(axis=1)


def bench_cost(seconds: float) -> None:
    print(f"analysis cost per 40 ms frame ({pin()}, {seconds:.0f} s of each input):")
    inputs = {
        "plucked chords": np.tile(progression("plucked").audio[:, 0], 4)[: round(seconds * RATE)],
        "held sine chords": np.tile(progression("sine").audio[:, 0], 4)[: round(seconds * RATE)],
        "melody": np.tile(melody().audio[:, 0], 20)[: round(seconds * RATE)],
        "click track": clicks(120, seconds),
        "noise": noise(seconds),
    }
    every = []
    print("| input | mean | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, audio in inputs.items():
        costs = frame_costs(audio)
        every.append(costs)
        print(f"| {name} | {costs.mean():.3f} ms | {np.percentile(costs, 50):.3f} ms | {np.percentile(costs, 99):.3f} ms | {costs.max():.3f} ms |")
    costs = np.concatenate(every)
    print(f"| **all** | **{costs.mean():.3f} ms** | {np.percentile(costs, 50):.3f} ms | {np.percentile(costs, 99):.3f} ms | {costs.max():.3f} ms |")


def bench_jack(seconds: float, listen: bool = True, follow: tuple[str, ...] = ("notes", "tempo", "style")) -> None:
    from output_rig import private_jack
    from test_listen import write_wav

    from mrtd.app.daemon import Daemon, DaemonConfig

    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "band.wav"
        write_wav(wav, progression("plucked").audio)
        with private_jack(RATE, period=256):
            feeder = subprocess.Popen([sys.executable, str(ROOT / "tests" / "listen_feeder.py"), str(wav)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                assert feeder.stdout is not None and feeder.stdout.readline().strip() == "ready"
                daemon = Daemon(DaemonConfig(engine="synth", prompt="warm jazz piano", osc=None, midi=False,
                                             listen="jack:feeder:out_0,feeder:out_1" if listen else None,
                                             follow=list(follow) if listen else [], scene_dir=folder, cache_dir=folder))
                daemon.start()
                try:
                    daemon.stopped.wait(seconds)
                    status = daemon.status()
                finally:
                    daemon.stop()
            finally:
                feeder.stdin.close()
                feeder.wait(10)
    if not listen:
        print(f"\nJACK dummy, 256-frame period, {seconds:.0f} s, synth playing, not listening (the baseline): underruns {status['underruns']}")
        return
    print(f"\nJACK dummy, 256-frame period, {seconds:.0f} s, synth playing, listening to {', '.join(follow)}:")
    print(f"underruns {status['underruns']}, capture overruns {status['listen_overruns']},"
          f" tempo heard {status['listen_bpm']} BPM (daemon {status['bpm']}), chord {status['listen_chord'] or '-'},"
          f" mix {status['mix']}")
    print(f"analysis latency p50 {status['listen_latency_ms']} ms, p99 {status['listen_latency_p99_ms']} ms;"
          f" cost p50 {status['listen_cost_ms']} ms per frame (in the daemon, not pinned)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-jack", action="store_true")
    parser.add_argument("--runs", type=int, default=1, help="JACK runs of each kind, interleaved")
    args = parser.parse_args()
    if not args.no_jack:  # first: the cost part pins this process to one core
        for _ in range(args.runs):  # interleaved, so a busy machine weighs on each alike
            bench_jack(args.seconds, listen=False)
            bench_jack(args.seconds, follow=("notes", "tempo"))
            bench_jack(args.seconds)
    bench_cost(args.seconds)


if __name__ == "__main__":
    main()
