"""The mrt2 engine's per-frame overhead around the model call, against a bare loop.

Both sides call the same imported tiny MRT2 function (exported into a temporary
MAGENTA_HOME by tests/mrt2_tiny.py):

- daemon: `Generator.next_frame()` with a `ControlState` building the frame's
  conditioning, `Mrt2Engine.step` writing the arguments (offsets, negatives),
  calling the function, threading the state and converting the audio, plus the
  generator's gain stage;
- bare: the function called with fixed, prebuilt arguments, state threaded by hand.

Rounds alternate between the two (and which goes first), so clock drift and
cache effects hit both alike. The ratio is of medians over rounds.

A tiny function costs well under a millisecond, so against it the ratio would
measure Python overhead against almost nothing. The headline model therefore
adds a matmul chain so one step costs a few milliseconds, as a real model's
step does (mrt2_small is ~10-20 ms on Apple Silicon); the bare tiny model's
figures are printed too, as absolute overhead in microseconds.

    .venv/bin/python benchmarks/bench_mrt2.py [--rounds 200] [--frames 5] [--matmuls 2] [--size 192]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import mrt2_tiny as tiny  # noqa: E402
from mrtd.engines.mrt2 import STATE_START, Mrt2Engine, mlx_core  # noqa: E402
from mrtd.runtime.generator import Generator  # noqa: E402
from style_fakes import builtin_control  # noqa: E402

TARGET_RATIO = 1.05


def timed(step, frames: int) -> list[float]:
    """Seconds each of `frames` calls of `step()` took: the one timing loop every bench loop here
    runs (the daemon's and the bare ones pay the same call around their step)."""
    times = []
    clock = time.perf_counter
    for _ in range(frames):
        started = clock()
        step()
        times.append(clock() - started)
    return times


def bare_loop(engine: Mrt2Engine):
    """Returns run(frames) -> per-frame seconds: the engine's own function and its current
    arguments (as the engine last built them), the state threaded by hand, nothing else."""
    mx = mlx_core()
    function = engine._fn  # the very same imported function object, same weights in memory
    args = list(engine._args[:STATE_START])
    state = [mx.array(a) for a in engine._state]
    mx.eval(state, args)

    def step() -> None:
        nonlocal state
        outputs = function(*args, *state)
        mx.eval(outputs)
        state = outputs[1:]

    return lambda frames: timed(step, frames)


def daemon_loop(engine: Mrt2Engine):
    generator = Generator(engine, builtin_control())
    return lambda frames: timed(generator.next_frame, frames)


def measure(home: Path, name: str, rounds: int, frames: int) -> tuple[float, float, float, float]:
    """ms/frame of (daemon, bare) over interleaved rounds: (daemon median, bare median, daemon mean, bare mean).

    Medians of per-frame times are the headline: this is a shared machine and a
    scheduler hiccup lands in one side or the other at random.
    """
    engine = Mrt2Engine(name, home)
    engine.warm_up()
    daemon = daemon_loop(engine)
    daemon(1)  # the engine builds its arguments; the bare loop then calls with those
    bare = bare_loop(engine)
    bare(5), daemon(5)  # first calls pay one-off setup
    daemon_ms: list[float] = []
    bare_ms: list[float] = []
    for round_index in range(rounds):
        order = (daemon, bare) if round_index % 2 == 0 else (bare, daemon)
        for run in order:
            times = [t * 1000.0 for t in run(frames)]
            (daemon_ms if run is daemon else bare_ms).extend(times)
    engine.close()
    return (statistics.median(daemon_ms), statistics.median(bare_ms),
            statistics.fmean(daemon_ms), statistics.fmean(bare_ms))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--matmuls", type=int, default=2, help="matmul chain length in the heavy tiny model")
    parser.add_argument("--size", type=int, default=192, help="matrix size of the chain")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        tiny.export_tiny_model(home, "tiny")
        tiny.export_tiny_model(home, "tiny_heavy", heavy_matmuls=args.matmuls, heavy_size=args.size)
        print(f"mrt2 per-frame overhead, {args.rounds} interleaved rounds x {args.frames} frames (medians)")
        print(f"{'model':<30} {'daemon ms':>10} {'bare ms':>8} {'overhead us':>12} {'ratio':>6} "
              f"{'(means: daemon':>15} {'bare':>6} {'ratio)':>7}")
        results = {}
        for name, label in (("tiny", "tiny (bare recurrence)"),
                            ("tiny_heavy", f"tiny + {args.matmuls} matmuls {args.size}x{args.size}")):
            daemon_ms, bare_ms, daemon_mean, bare_mean = measure(home, name, args.rounds, args.frames)
            results[name] = (daemon_ms, bare_ms)
            print(f"{label:<30} {daemon_ms:>10.3f} {bare_ms:>8.3f} {(daemon_ms - bare_ms) * 1000:>12.1f} "
                  f"{daemon_ms / bare_ms:>6.3f} {daemon_mean:>15.3f} {bare_mean:>6.3f} {daemon_mean / bare_mean:>7.3f}")
    daemon_ms, bare_ms = results["tiny_heavy"]
    ratio = daemon_ms / bare_ms
    print(f"headline (model step of {bare_ms:.2f} ms, as a real model's would be a few ms): "
          f"ratio {ratio:.3f}, target <= {TARGET_RATIO} -> {'OK' if ratio <= TARGET_RATIO else 'OVER'}")
    print("the tiny model's ratio is dominated by the fixed Python cost (see 'overhead us'), "
          "not by anything that grows with the model")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
