"""The generation thread's command step: `ControlState.begin_frame` applying N commands.

Side by side in one run: the control state and commands of an older commit (default 4d67aaf,
before every command went through one funnel that tells a listener), loaded from git beside
this tree's; this tree's without a listener; and this tree's with a capture listening (a
`CaptureWriter`'s `listen`, what `mrtd run --capture` hands the state; its writer thread, which
encodes and writes off the generation thread, is not run here, and its buffer is emptied
between rounds). Per frame: N commands submitted (a parameter change, then notes on and off:
none of them coalesced), then one `begin_frame`; µs per frame, best and median of R rounds of
F frames, the rounds alternating between the three.

    .venv/bin/python benchmarks/bench_commands.py [--against 4d67aaf] [--frames 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT / "daemon"), str(ROOT / "tests")]

from mrtd.control import commands as new_commands  # noqa: E402
from mrtd.control import state as new_state  # noqa: E402
from mrtd.core import capture  # noqa: E402
from mrtd.core.capture import CaptureWriter  # noqa: E402
from style_fakes import builtin_control  # noqa: E402


def _old_module(commit: str, path: str, name: str) -> ModuleType:
    """`path` as it was at `commit`, imported beside this tree's (it imports only unchanged modules)."""
    source = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"{commit}:{path}", "exec"), module.__dict__)
    return module


def _frames(state, commands, count: int, frames: int, start: int) -> float:
    """µs per frame: submit `count` commands, then begin the frame."""
    submit, begin = state.submit, state.begin_frame
    made = [commands.SetParam("temperature", 1.0)] + [
        commands.NoteOn(40 + i % 48) if i % 2 else commands.NoteOff(40 + i % 48) for i in range(1, count)]
    elapsed = 0.0
    for frame in range(start, start + frames):
        for command in made:
            submit(command)
        began = time.perf_counter()
        begin(frame)
        elapsed += time.perf_counter() - began
    return elapsed / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="4d67aaf")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    old_state = _old_module(args.against, "daemon/mrtd/control/state.py", "old_control_state")
    old_commands = _old_module(args.against, "daemon/mrtd/control/commands.py", "old_control_commands")
    folder = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    writer = CaptureWriter(folder / "bench.capture")
    capture.BUFFER_RECORDS = 10**9  # a round's records stay in the buffer: its writer is not run

    def old():
        return old_state.ControlState(builtin_control().style)

    def new():
        return new_state.ControlState(builtin_control().style)

    def captured():
        state = new()
        state.listener = writer.listen
        return state

    cases = [(f"before ({args.against})", old, old_commands), ("after, no capture", new, new_commands),
             ("after, capturing", captured, new_commands)]
    print(f"begin_frame with N commands due, µs per frame (best / median of {args.rounds} x {args.frames} frames)")
    print(f"{'N':>4}  " + "  ".join(f"{name:>24}" for name, _, _ in cases))
    try:
        for count in (1, 8, 64):
            figures: dict[str, list[float]] = {name: [] for name, _, _ in cases}
            heard = 0
            for _round in range(args.rounds):
                for name, make, commands in cases:
                    state = make()
                    figures[name].append(_frames(state, commands, count, args.frames, 1))
                    heard = len(writer._buffer)
                    writer._buffer.clear()
            assert heard == count * args.frames, "the capture heard every command applied"
            print(f"{count:>4}  " + "  ".join(
                f"{min(v):>10.2f} / {statistics.median(v):>10.2f}" for v in figures.values()))
    finally:
        writer.stop(0)


if __name__ == "__main__":
    main()
