"""Blend + quantize cost per frame with 16 prompts, crossfading so every frame re-quantizes.

    .venv/bin/python benchmarks/bench_style.py [--frames 2000] [--prompts 16] [--blend linear|slerp]

Prints mean and p99 microseconds of `StyleSpace.advance()` (the generation
thread's whole style cost per frame) with the built-in quantizer, and the
share of a 40 ms frame it takes. On machines with few cores, run it with
OPENBLAS_NUM_THREADS=1 as well, which is how a real-time process should run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mrtd.conditioning import EMBEDDING_DIM
from mrtd.frame import FRAME_SECONDS
from mrtd.style.quantizer import BuiltinQuantizer
from mrtd.style.space import StyleSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--blend", choices=("linear", "slerp"), default="linear")
    parser.add_argument("--fade-frames", type=int, default=100, help="frames per crossfade (a new one starts when one ends)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    space = StyleSpace(BuiltinQuantizer(), blend=args.blend)
    names = [f"prompt{i}" for i in range(args.prompts)]
    for name in names:
        embedding = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
        space.set_prompt(name, embedding / np.linalg.norm(embedding), weight=float(rng.random()))
    for _ in range(20):  # warm up: page in codebooks, first-call costs
        space.advance()

    durations = np.empty(args.frames)
    quantized_before = space.quantize_count
    for frame in range(args.frames):
        if not space.crossfading:
            # A new random mix over all prompts: every frame of the fade changes the blend.
            space.crossfade_to({name: float(rng.random()) for name in names}, args.fade_frames, "equal-power")
        started = time.perf_counter()
        space.advance()
        durations[frame] = time.perf_counter() - started
    quantized = space.quantize_count - quantized_before

    micros = durations * 1e6
    print(f"style advance(): {args.prompts} prompts, {args.blend} blend, built-in RVQ "
          f"({space.quantizer.active_levels} active levels), {args.frames} frames, {quantized} re-quantized")
    print(f"  mean {micros.mean():8.1f} us   p99 {np.percentile(micros, 99):8.1f} us   max {micros.max():8.1f} us")
    print(f"  = {100 * micros.mean() / (FRAME_SECONDS * 1e6):.2f}% of a {FRAME_SECONDS * 1000:.0f} ms frame (mean)")


if __name__ == "__main__":
    main()
