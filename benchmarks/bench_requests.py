"""What decoding a request costs: `from_args` over a mix of messages, this tree against another revision.

The other revision's `vocabulary/requests.py` (default 4d67aaf, the last with hand-written
codecs) is loaded beside this tree's, and the two are timed alternately in one run. Prints
µs per message (median of the rounds) for each, and the ratio (on a shared machine the median
of each round's own ratio moves least).

    .venv/bin/python benchmarks/bench_requests.py [--before REV] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT / "daemon")]

from mrtd.vocabulary import requests as after  # noqa: E402
from mrtd.vocabulary.params import PARAMS  # noqa: E402
from mrtd.vocabulary.values import arity, number  # noqa: E402

# What a performance sends most, by rough share: faders, notes, weights, then the rest.
MESSAGES: list[tuple[str, list[Any]]] = [
    ("/mrt/temperature", [1.2]), ("/mrt/volume", [-6.0]), ("/mrt/cfg/style", [2.5]), ("/mrt/note/on", [60, 100]),
    ("/mrt/note/off", [60]), ("/noteon", [64]), ("/mrt/weight", ["pad", 0.5]), ("/mrt/weight", [2, 0.25]),
    ("/mrt/xy", [0.25, -0.5]), ("/mrt/axis", [2, 1.5]), ("/mrt/mute", [1]), ("/mrt/midigate", []),
    ("/mrt/mix", ["a", 1.0, "b", 0.5, "4 beats"]), ("/mrt/prompt", ["pad", "warm analog pads", 0.5]),
    ("/mrt/cue", ["verse", "bar"]), ("/mrt/tempo", [120.0, 4]), ("/mrt/at", ["bar", "/mrt/note/on", 62]),
    ("/mrt/ping", ["fence", 1]), ("/mrt/status", []), ("/mrt/event", ["note", 2, "velocity", 0.5]),
]


def load_before(revision: str) -> types.ModuleType:
    """`vocabulary/requests.py` as it was at `revision`, as a module of its own."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:daemon/mrtd/vocabulary/requests.py"],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("requests_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:requests.py", "exec"), module.__dict__)
    if "switch(args)" in source:  # values.switch took the argument list then; now it takes one value
        module.switch = lambda args: (arity(args, 0, 1), True if not args else bool(PARAMS["mute"].coerce(number(args[0], "switch"))))[1]
    return module


def per_message(module: types.ModuleType, number_of: int) -> float:
    """µs per message for `number_of` passes over MESSAGES."""
    kinds = [(module.REQUESTS[address], args) for address, args in MESSAGES]
    start = time.perf_counter()
    for _ in range(number_of):
        for kind, args in kinds:
            kind.from_args(args)
    return (time.perf_counter() - start) / (number_of * len(kinds)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="4d67aaf")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    options = parser.parse_args()
    before = load_before(options.before)
    for module in (before, after):  # the same requests decode to the same arguments both ways
        assert [module.REQUESTS[a].from_args(v).args() for a, v in MESSAGES] == [after.REQUESTS[a].from_args(v).args() for a, v in MESSAGES]
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(options.rounds):  # alternating, so both see the same machine
        times["before"].append(per_message(before, options.number))
        times["after"].append(per_message(after, options.number))
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"{len(MESSAGES)} kinds of message, {options.rounds} rounds x {options.number} passes")
    print(f"before ({options.before}): {b:.2f} µs/message")
    print(f"after (this tree): {a:.2f} µs/message")
    ratios = [after_ / before_ for before_, after_ in zip(times["before"], times["after"])]
    print(f"after / before: {a / b:.2f} (median of the rounds' own ratios: {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
