"""MRT2 on this machine's device, on each installed backend: load time, ms per frame, real-time
factor, memory, daemon overhead.

    .venv/bin/python benchmarks/bench_mrt2_device.py [--models mrt2_small mrt2_base] [--layers N]
        [--bits 8] [--frames 50] [--rounds 4] [--backends mlx mlx-compiled jax] [--cache DIR]

The first line says whether an official `.mlxfn` imports under this MLX device at all (the open
question for MLX's CUDA backend). Then, per model, real architectures with random weights, cached
under `--cache` per magenta-rt version, model, layers and bits:

- mlx: the official exporter's `.mlxfn` (`mrt mlx export ... --skip-restore`), loaded by
  `Mrt2Engine` through the path a real model takes;
- mlx-compiled: the same, with the imported function wrapped in `mx.compile` (as the official
  C++ engine does);
- jax: a checkpoint of the official JAX model classes' own random initialisation
  (engines/jax_checkpoint.py), stepped by `Mrt2JaxEngine` through the official
  `MagentaRT2System`'s compiled streaming step (the JAX compilation cache is emptied for the
  run, so the load figure includes the compile).

Each (model, backend) runs in its own process (its memory is its own): load (import or
trace+compile), warm-up, then interleaved rounds two ways: through the daemon's generator
(commands, conditioning, the call, state threading, audio conversion, gain) and as a bare loop
calling the same function with the same arguments. Printed: load s, warm-up p50, daemon and bare
p50/p99 ms per frame, the real-time factor (40 ms over the daemon's p50; above 1 is faster than
real time), the overhead ratio (daemon p50 / bare p50; target <= 1.02) and peak memory (the
device's own figure where it reports one: MLX's peak, JAX's GPU peak; else the process's max
RSS). On a 2-core x86 CPU use `--layers 1 --frames 4 --rounds 2`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mrt2 import bare_loop, daemon_loop, timed  # noqa: E402
from mrtd.frame import FRAME_SECONDS  # noqa: E402

TARGET_RATIO = 1.02
BACKENDS = ("mlx", "mlx-compiled", "jax")


def export(model: str, layers: int | None, bits: int | None, cache: Path) -> tuple[Path, str, float]:
    """(MAGENTA_HOME holding the MLX export, its name, seconds the export took; 0 when cached)."""
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


def jax_checkpoint(model: str, layers: int | None, cache: Path) -> tuple[Path, str, float]:
    """(MAGENTA_HOME holding the JAX checkpoint, its model name, seconds it took to make; 0 when cached).
    The name must start with the official registry's (the architecture); the layers are read back from the file."""
    from mrtd.engines.jax_checkpoint import checkpoint_path, write_random_checkpoint

    home = cache / f"magenta-rt-{metadata.version('magenta-rt')}-jax-L{layers or 'all'}"
    path = checkpoint_path(model, home)
    if path.is_file():
        return home, model, 0.0
    started = time.perf_counter()
    write_random_checkpoint(path, model, layers, layers)
    return home, model, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def mlxfn_imports(home: Path, name: str) -> str:
    """The first line: does the official export import (and step) under this MLX device?"""
    try:
        from mrtd.conditioning import Conditioning
        from mrtd.engines.mrt2 import Mrt2Engine, device_description

        device = device_description()
    except Exception as exc:
        return f"mlxfn import: MLX not usable here ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    try:
        engine = Mrt2Engine(name, home, warmup_steps=1)  # its load imports the function and probes one call
        engine.step(Conditioning())
        engine.close()
    except Exception as exc:
        return f"mlxfn import under {device}: NO ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    return f"mlxfn import under {device}: yes, the official {name} export imports and steps"


def jax_bare_loop(engine):
    """run(frames) -> per-frame seconds: the engine's compiled streaming step with its current block and
    constants, the state threaded by hand, the audio brought to the host; nothing else."""
    import jax

    step, params, block, constants = engine._streaming_step, engine._params, engine._block, engine._constants
    state = jax.tree.map(jax.numpy.copy, engine._state)

    def one() -> None:
        nonlocal state
        output, state, _ = step(params, block, constants, state)
        np.asarray(output.values)  # the audio to the host, as the engine does (and the wait for it)

    return lambda frames: timed(one, frames)


def peak_memory(backend: str) -> tuple[float, str]:
    """(MB, what it is) after the run."""
    if backend.startswith("mlx"):
        import mlx.core as mx

        peak = mx.get_peak_memory()
        if peak:
            return peak / 1e6, "MLX peak"
    else:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if stats.get("peak_bytes_in_use"):
            return stats["peak_bytes_in_use"] / 1e6, "device peak"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, "max RSS"


def measure_one(home: Path, name: str, backend: str, frames: int, rounds: int) -> dict[str, float | str]:
    """One (model, backend), in this process."""
    started = time.perf_counter()
    if backend == "jax":
        from mrtd.engines.mrt2_jax import Mrt2JaxEngine

        engine = Mrt2JaxEngine(name, home)
    else:
        from mrtd.engines.mrt2 import Mrt2Engine, mlx_session

        engine = Mrt2Engine(name, home)
        if backend == "mlx-compiled":
            with mlx_session() as mx:
                engine._fn = mx.compile(engine._fn)
    load_s = time.perf_counter() - started
    engine.warm_up()
    verdict = engine.verdict
    daemon = daemon_loop(engine)
    daemon(1)  # the engine builds its arguments; the bare loop then calls with those
    bare = jax_bare_loop(engine) if backend == "jax" else bare_loop(engine)
    daemon_ms: list[float] = []
    bare_ms: list[float] = []
    for round_index in range(rounds):
        for run in ((daemon, bare) if round_index % 2 == 0 else (bare, daemon)):
            (daemon_ms if run is daemon else bare_ms).extend(t * 1000.0 for t in run(frames))
    hardware = engine.hardware()
    memory_mb, memory_kind = peak_memory(backend)
    engine.close()
    daemon_p50, bare_p50 = statistics.median(daemon_ms), statistics.median(bare_ms)
    return {
        "hardware": hardware, "load_s": load_s,
        "warm_p50": verdict.p50_ms if verdict else float("nan"),
        "daemon_p50": daemon_p50, "daemon_p99": percentile(daemon_ms, 0.99),
        "bare_p50": bare_p50, "bare_p99": percentile(bare_ms, 0.99),
        "rtf": FRAME_SECONDS * 1000.0 / daemon_p50, "ratio": daemon_p50 / bare_p50,
        "memory_mb": memory_mb, "memory_kind": memory_kind,
    }


def run_child(home: Path, name: str, backend: str, args: argparse.Namespace) -> dict[str, float | str]:
    """measure_one in a fresh process: its own memory, its own compile."""
    env = dict(os.environ)
    if backend == "jax":
        env["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="mrtd-bench-jax-")  # an empty cache: the compile counts
    done = subprocess.run([sys.executable, __file__, "--one", str(home), name, backend, "--frames", str(args.frames),
                           "--rounds", str(args.rounds)], capture_output=True, text=True, env=env, timeout=7200)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": lines[-1] if lines else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mrt2_small", "mrt2_base"])
    parser.add_argument("--layers", type=int, default=None, help="this many layers (default: the model's own)")
    parser.add_argument("--bits", type=int, default=None, help="quantize the MLX export (8: as released)")
    parser.add_argument("--frames", type=int, default=50, help="frames per round and side")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (daemon and bare alternate first)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mrtd-bench")
    parser.add_argument("--one", nargs=3, metavar=("HOME", "NAME", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        home, name, backend = args.one
        print(json.dumps(measure_one(Path(home), name, backend, args.frames, args.rounds)))
        return 0

    from mrtd.engines.jax_checkpoint import jax_installed

    mlx_wanted = any(b.startswith("mlx") for b in args.backends)
    made = {model: export(model, args.layers, args.bits, args.cache) for model in args.models} if mlx_wanted else {}
    if made:
        first_home, first_name, _ = made[args.models[0]]
        print(mlxfn_imports(first_home, first_name))
    else:
        print("mlxfn import: not asked (--backends without mlx)")
    versions = [f"mlx {metadata.version('mlx')}" if mlx_wanted else "",
                f"jax {metadata.version('jax')}" if jax_installed() else "no jax", f"magenta-rt {metadata.version('magenta-rt')}"]
    print(f"{', '.join(v for v in versions if v)}; {args.rounds} interleaved rounds x {args.frames} frames per side; "
          f"layers {args.layers or 'all'}, bits {args.bits or 'float'} (MLX only)")
    print(f"{'model':<12} {'backend':<13} {'make s':>6} {'load s':>6} {'warm p50':>9} {'daemon p50/p99 ms':>18} "
          f"{'bare p50/p99 ms':>16} {'RTF':>6} {'ratio':>6} {'memory MB':>10}")
    worst = 0.0
    for model in args.models:
        for backend in args.backends:
            if backend == "jax":
                if not jax_installed():
                    print(f"{model:<12} {backend:<13} not installed (pip install -e '.[jax]')")
                    continue
                home, name, make_s = jax_checkpoint(model, args.layers, args.cache)
            else:
                home, name, make_s = made[model]
            r = run_child(home, name, backend, args)
            if "error" in r:
                print(f"{model:<12} {backend:<13} failed: {r['error']}")
                continue
            worst = max(worst, float(r["ratio"]))
            print(f"{model:<12} {backend:<13} {make_s:>6.0f} {r['load_s']:>6.1f} {r['warm_p50']:>9.1f} "
                  f"{r['daemon_p50']:>8.1f} / {r['daemon_p99']:<8.1f} {r['bare_p50']:>7.1f} / {r['bare_p99']:<7.1f} "
                  f"{r['rtf']:>6.3f} {r['ratio']:>6.3f} {r['memory_mb']:>6.0f} {r['memory_kind']}   on {r['hardware']}")
    print(f"overhead ratio (daemon p50 / bare p50), worst: {worst:.3f}, target <= {TARGET_RATIO} -> "
          f"{'OK' if worst <= TARGET_RATIO else 'OVER'}; RTF >= 1 is real time")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
