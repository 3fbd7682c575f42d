"""What watching the daemon from afar costs: µs per /metrics render, and underruns while
another process scrapes /metrics and asks /health 100 times a second each.

    .venv/bin/python benchmarks/bench_metrics.py [--seconds 20] [--rate 100] [--output null]

A real daemon (synth engine, the tablet-xy scene, real-time paced null output, or
`--output jack` on a running JACK server) with the web port on loopback. The render is
timed in this process, straight on the collector (no cache); the scrapes come from a
second process over HTTP, as Prometheus and a health checker would.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "daemon"), str(ROOT / "tests")]

from conftest import running_daemon, wait_for  # noqa: E402
from mrtd.app import metrics  # noqa: E402
from mrtd.engines.synth import SynthEngine  # noqa: E402
from mrtd.inputs.web.config import WebConfig  # noqa: E402
from web_rig import SCENES  # noqa: E402

# The scraper: `rate` GETs of /metrics and of /health per second, paced, for `seconds`;
# prints the round trips in ms and the status codes as JSON.
SCRAPER = """
import json, sys, time, urllib.request, urllib.error
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
trips, codes = {"/metrics": [], "/health": []}, {}
start = time.monotonic()
n = 0
if not rate:  # the idle run: nobody scrapes
    time.sleep(seconds)
while rate and time.monotonic() - start < seconds:
    for path in trips:
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                r.read(); code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
            why = e.read().decode().strip()
            codes[why] = codes.get(why, 0) + 1
        trips[path].append((time.monotonic() - t0) * 1000)
        codes[f"{path} {code}"] = codes.get(f"{path} {code}", 0) + 1
    n += 1
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
print(json.dumps({"trips": trips, "codes": codes, "rounds": n, "seconds": time.monotonic() - start}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=100.0, help="scrapes of each of /metrics and /health per second")
    parser.add_argument("--output", default="null", help="null (paced) or jack (a running JACK server)")
    parser.add_argument("--number", type=int, default=2000, help="renders to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with running_daemon(Path(folder), engine=SynthEngine(seed=0), output=args.output, web=WebConfig(port=0),
                            midi=False, scene=str(SCENES / "tablet-xy.yaml")) as (daemon, _):
            wait_for(lambda: daemon.scenes.shown() is not None and daemon.generator.frames > 25, 20, "the scene")
            runs = []
            for rate in (0.0, args.rate, 0.0, args.rate):  # interleaved: the machine's own load shows in the idle runs
                underruns, frames, cpu = daemon.status()["underruns"], daemon.generator.frames, time.process_time()
                scraper = subprocess.run([sys.executable, "-c", SCRAPER, str(daemon.web.port), str(rate), str(args.seconds)],
                                         capture_output=True, text=True, check=True)
                result = json.loads(scraper.stdout)
                runs.append((rate, result, daemon.generator.frames - frames, daemon.status()["underruns"] - underruns,
                             time.process_time() - cpu))
            # Timed after the scrapes: renders back to back in this process hold the GIL the generator needs.
            surface = daemon.web.host
            own, render = surface._metrics
            body = render(own)
            seconds = min(timeit.repeat(lambda: render(own), number=args.number, repeat=5))
            families = body.count(b"# TYPE ")
            print(f"/metrics: {len(body)} bytes, {families} families; "
                  f"render (status() + text) {seconds / args.number * 1e6:.0f} µs, best of 5 x {args.number}")
            health = min(timeit.repeat(daemon.audio_health, number=args.number, repeat=5))
            print(f"/health's judge: {health / args.number * 1e6:.1f} µs per look (within a second: the last answer)")

        idle_cpu = [cpu / result["seconds"] for rate, result, _, _, cpu in runs if not rate]
        for rate, result, made, new_underruns, cpu in runs:
            share = cpu / result["seconds"] * 100
            if not rate:
                print(f"{args.output} output, {result['seconds']:.1f} s, nobody scraping: {new_underruns} underruns, "
                      f"{made} frames made; the daemon's process used {share:.1f} % of a core")
                continue
            per_request = (cpu / result["seconds"] - statistics.mean(idle_cpu)) / (2 * rate) * 1e6
            print(f"{args.output} output, {result['rounds']} rounds in {result['seconds']:.1f} s "
                  f"({result['rounds'] / result['seconds']:.0f}/s each of /metrics and /health): "
                  f"{new_underruns} underruns, {made} frames made; {share:.1f} % of a core, "
                  f"{per_request:.0f} µs CPU per request over the idle runs")
            for path, trips in result["trips"].items():
                trips.sort()
                print(f"  {path}: round trip p50 {statistics.median(trips):.2f} ms, "
                      f"p99 {trips[min(len(trips) - 1, round(0.99 * (len(trips) - 1)))]:.2f} ms")
            print("  answers:", result["codes"])

if __name__ == "__main__":
    main()
