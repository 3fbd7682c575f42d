"""MRT2 on this machine's device: official exports, ms per frame, real-time factor, daemon overhead.

    .venv/bin/python benchmarks/bench_mrt2_device.py [--models mrt2_small mrt2_base] [--layers N]
        [--bits 8] [--frames 50] [--rounds 4] [--cache DIR]

For each model the official exporter (`mrt mlx export ... --skip-restore`, from
magenta-rt, the test extra) makes a real-architecture model with random
weights, cached under `--cache` per magenta-rt version, model, layers and bits.
mrtd loads it through the path a real model takes (`Mrt2Engine`), warms it up,
then steps it in interleaved rounds two ways: through the daemon's generator
(commands, conditioning, the call, state threading, audio conversion, gain) and
as a bare loop calling the same imported function with the same arguments.
Printed per model: the device, export time, warm-up verdict, ms/frame p50 and
p99 of both, the real-time factor (40 ms over the daemon's p50; above 1 is
faster than real time) and the overhead ratio (daemon p50 / bare p50; target
<= 1.02). It runs unchanged on a CPU, Apple Silicon or an NVIDIA GPU (MLX's
CUDA backend: the `cuda12`/`cuda13` extras). On a 2-core x86 CPU use
`--layers 1 --frames 4 --rounds 2`: a full mrt2_small step there takes ~2.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mrt2 import bare_loop, daemon_loop  # noqa: E402
from mrtd.engines.mrt2 import Mrt2Engine, device_description  # noqa: E402
from mrtd.frame import FRAME_SECONDS  # noqa: E402

TARGET_RATIO = 1.02


def export(model: str, layers: int | None, bits: int | None, cache: Path) -> tuple[Path, str, float]:
    """(MAGENTA_HOME holding the export, its name, seconds the export took; 0 when cached)."""
    version = metadata.version("magenta-rt")
    name = f"{model}_L{layers or 'all'}_{f'{bits}bit' if bits else 'float'}"
    home = cache / f"magenta-rt-{version}"
    models = home / "magenta-rt-v2" / "models"
    if (models / name / f"{name}_state.safetensors").is_file():
        return home, name, 0.0
    command = [str(Path(sys.executable).with_name("mrt")), "mlx", "export", "--output-name", name, "--model", model,
               "--skip-restore", "--output-dir", str(models)]
    if layers:
        command += ["--num-layers", str(layers), "--depth-num-layers", str(layers)]
    if bits:
        command += ["--bits", str(bits)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=3600)
    return home, name, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(home: Path, name: str, frames: int, rounds: int) -> dict[str, float | str]:
    engine = Mrt2Engine(name, home)
    engine.warm_up()
    verdict = engine.verdict
    daemon = daemon_loop(engine)
    daemon(1)  # the engine builds its arguments; the bare loop then calls with those
    bare = bare_loop(engine)
    daemon_ms: list[float] = []
    bare_ms: list[float] = []
    for round_index in range(rounds):
        for run in ((daemon, bare) if round_index % 2 == 0 else (bare, daemon)):
            (daemon_ms if run is daemon else bare_ms).extend(t * 1000.0 for t in run(frames))
    hardware = engine.hardware()
    engine.close()
    daemon_p50, bare_p50 = statistics.median(daemon_ms), statistics.median(bare_ms)
    return {
        "hardware": hardware,
        "warm_p50": verdict.p50_ms if verdict else float("nan"),
        "daemon_p50": daemon_p50, "daemon_p99": percentile(daemon_ms, 0.99),
        "bare_p50": bare_p50, "bare_p99": percentile(bare_ms, 0.99),
        "rtf": FRAME_SECONDS * 1000.0 / daemon_p50, "ratio": daemon_p50 / bare_p50,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mrt2_small", "mrt2_base"])
    parser.add_argument("--layers", type=int, default=None, help="export this many layers (default: the model's own)")
    parser.add_argument("--bits", type=int, default=None, help="quantize the export (8: as released)")
    parser.add_argument("--frames", type=int, default=50, help="frames per round and side")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (daemon and bare alternate first)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mrtd-bench")
    args = parser.parse_args()

    print(f"device: {device_description()}; mlx {metadata.version('mlx')}, magenta-rt {metadata.version('magenta-rt')}")
    print(f"{args.rounds} interleaved rounds x {args.frames} frames per side; layers {args.layers or 'all'}, "
          f"bits {args.bits or 'float'}")
    print(f"{'model':<12} {'export s':>8} {'warm p50':>9} {'daemon p50/p99 ms':>18} {'bare p50/p99 ms':>16} "
          f"{'RTF':>6} {'ratio':>6}")
    worst = 0.0
    for model in args.models:
        home, name, export_s = export(model, args.layers, args.bits, args.cache)
        r = measure(home, name, args.frames, args.rounds)
        worst = max(worst, float(r["ratio"]))
        print(f"{model:<12} {export_s:>8.0f} {r['warm_p50']:>9.1f} {r['daemon_p50']:>8.1f} / {r['daemon_p99']:<8.1f}"
              f" {r['bare_p50']:>7.1f} / {r['bare_p99']:<7.1f} {r['rtf']:>6.3f} {r['ratio']:>6.3f}   on {r['hardware']}")
    print(f"overhead ratio (daemon p50 / bare p50), worst: {worst:.3f}, target <= {TARGET_RATIO} -> "
          f"{'OK' if worst <= TARGET_RATIO else 'OVER'}; RTF >= 1 is real time")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
