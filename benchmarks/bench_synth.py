"""How fast the built-in synth makes a frame, on one core.

    .venv/bin/python benchmarks/bench_synth.py [--frames N] [--against REV]

Runs a few prompts with held notes, onsets and drums for N frames each
(default 1500 = 60 s of audio) after a warm-up, and prints ms/frame (mean,
p99) and the real-time factor. The budget is 2 ms per 40 ms frame (RTF >= 20).

--against REV also loads the synth engine as it was at git revision REV (the
one-file engine before the split: 4d67aaf) and times both on the same frames,
interleaved frame by frame (each goes first every other frame), so both see
the same machine load; it prints both figures, their ratio, and whether the
two made the same samples.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

import numpy as np  # noqa: E402

from mrtd.conditioning import NOTE_HELD, NOTE_ONSET, NOTE_SLOTS, Conditioning  # noqa: E402
from mrtd.engines.base import BaseEngine  # noqa: E402
from mrtd.engines.synth import SynthEngine  # noqa: E402
from mrtd.frame import FRAME_SECONDS  # noqa: E402
from mrtd.style.embedder import BuiltinEmbedder  # noqa: E402

PROMPTS = ("dark ambient drone", "bright fast techno", "deep house groove", "warm jazz piano",
           # the dearest voices and kits since the synth follows its prompt (issue 17)
           "bright glitter bells, high sparkling synth", "church organ hymn", "distorted lead guitar metal",
           "breakbeat jungle, fast amen breaks", "")


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def conditioning_for(frame: int, embedding: np.ndarray) -> Conditioning:
    """A rehearsal-like pattern: two bars improvised, then a held chord with onsets; drums on and auto."""
    notes = np.full(NOTE_SLOTS, -1, dtype=np.int8)
    phase = frame % 200
    if phase >= 100:
        state = NOTE_ONSET if phase % 25 == 0 else NOTE_HELD
        notes[[57, 60, 64]] = state
    drums = 1 if (frame // 300) % 2 == 0 else -1
    return Conditioning(style_embedding=embedding, notes=notes, drums=drums, cfg_notes=2.4)


def engine_at(revision: str) -> type[BaseEngine]:
    """SynthEngine as the one-file engine was at `revision`, loaded from git into its own module."""
    path = "daemon/mrtd/engines/synth.py"
    shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(f"bench_synth: no {path} at {revision}: {shown.stderr.strip()}")
    module = types.ModuleType(f"synth_at_{revision}")
    exec(compile(shown.stdout, f"{revision}:{path}", "exec"), module.__dict__)
    return module.SynthEngine


def summary(name: str, ms: np.ndarray) -> str:
    return (f"{name:26s} mean {ms.mean():6.3f} ms  median {np.median(ms):6.3f} ms  p99 {np.percentile(ms, 99):6.3f} ms  "
            f"max {ms.max():6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1500, help="frames per prompt (25 per second of audio)")
    parser.add_argument("--against", metavar="REV", help="also time the one-file engine at this git revision")
    args = parser.parse_args()

    # BLAS threads would not help a [2, 12] x [12, 1920] product; keep it to one core.
    print(pin_to_one_core())
    embedder = BuiltinEmbedder()
    engines: dict[str, BaseEngine] = {"now": SynthEngine(seed=0)}
    if args.against:
        engines[args.against] = engine_at(args.against)(seed=0)
    for engine in engines.values():
        engine.warm_up(25)

    all_ms: dict[str, list[np.ndarray]] = {name: [] for name in engines}
    same_samples = True
    for prompt in PROMPTS:
        embedding = embedder.embed_text(prompt)
        sequence = [conditioning_for(i, embedding) for i in range(args.frames)]
        for engine in engines.values():
            engine.reset()
        durations = {name: np.empty(args.frames) for name in engines}
        order = list(engines)
        for i, conditioning in enumerate(sequence):
            frames = {}
            for name in order if i % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                frames[name] = engines[name].step(conditioning)
                durations[name][i] = time.perf_counter() - started
            same_samples &= all(np.array_equal(frame, frames["now"]) for frame in frames.values())
        label = (prompt or "(no style)")[:26]
        for name in engines:
            ms = durations[name] * 1000.0
            all_ms[name].append(ms)
            print(summary(label if len(engines) == 1 else f"{label[:18]:18s} {name[:7]:>7s}", ms))
    totals = {name: np.concatenate(runs) for name, runs in all_ms.items()}
    for name, ms in totals.items():
        print(f"{'all' if len(engines) == 1 else 'all ' + name:26s} mean {ms.mean():6.3f} ms  median {np.median(ms):6.3f} ms  "
              f"p99 {np.percentile(ms, 99):6.3f} ms  RTF {FRAME_SECONDS * 1000.0 / ms.mean():6.1f}  "
              f"({len(ms)} frames, budget 2 ms / RTF 20)")
    if args.against:
        now, then = totals["now"], totals[args.against]
        # The median of the per-frame ratios: both made the same frame back to back, so a load
        # spike from elsewhere on the machine moves one pair, not the figure.
        print(f"now / {args.against}: mean {now.mean() / then.mean():.3f}, median {np.median(now) / np.median(then):.3f}, "
              f"median of per-frame ratios {np.median(now / then):.3f}; "
              f"samples {'identical' if same_samples else 'DIFFERENT'} on all {len(now)} frames")


if __name__ == "__main__":
    main()
