"""How fast the built-in synth makes a frame, on one core.

    .venv/bin/python benchmarks/bench_synth.py [--frames N]

Runs a few prompts with held notes, onsets and drums for N frames each
(default 1500 = 60 s of audio) after a warm-up, and prints ms/frame (mean,
p99) and the real-time factor. The budget is 2 ms per 40 ms frame (RTF >= 20).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

import numpy as np  # noqa: E402

from mrtd.conditioning import NOTE_HELD, NOTE_ONSET, NOTE_SLOTS, Conditioning  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1500, help="frames per prompt (25 per second of audio)")
    args = parser.parse_args()

    # BLAS threads would not help a [2, 12] x [12, 1920] product; keep it to one core.
    print(pin_to_one_core())
    embedder = BuiltinEmbedder()
    engine = SynthEngine(seed=0)
    engine.warm_up(25)

    all_ms = []
    for prompt in PROMPTS:
        embedding = embedder.embed_text(prompt)
        sequence = [conditioning_for(i, embedding) for i in range(args.frames)]
        engine.reset()
        durations = np.empty(args.frames)
        for i, conditioning in enumerate(sequence):
            started = time.perf_counter()
            engine.step(conditioning)
            durations[i] = time.perf_counter() - started
        ms = durations * 1000.0
        all_ms.append(ms)
        print(f"{(prompt or '(no style)')[:26]:26s} mean {ms.mean():6.3f} ms  p99 {np.percentile(ms, 99):6.3f} ms  "
              f"max {ms.max():6.3f} ms")
    ms = np.concatenate(all_ms)
    mean = ms.mean()
    print(f"{'all':26s} mean {mean:6.3f} ms  p99 {np.percentile(ms, 99):6.3f} ms  "
          f"RTF {FRAME_SECONDS * 1000.0 / mean:6.1f}  ({len(ms)} frames, budget 2 ms / RTF 20)")


if __name__ == "__main__":
    main()
