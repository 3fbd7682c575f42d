"""How long the machine itself stopped running anything, measured beside a test (as cyclictest does).

One process per CPU, pinned to it, at a real-time priority above the JACK server's, wakes every
millisecond and notes each wake-up that came more than `THRESHOLD_S` late. Such a thread is late
only when the CPU it needs was not running Linux's scheduler for it: a virtual machine's vCPU held
by its host (stolen time), or the kernel with preemption off. Nothing a test's daemon does at a
normal or raised nice can delay it. A soak on a shared CI machine uses this to tell an underrun the
daemon caused from one the machine caused by stopping under it.

Without the right to a real-time priority (not root, no CAP_SYS_NICE) it measures nothing and says
so (`available` False): the load beside it would delay it, and it would excuse what it should not.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

THRESHOLD_S = 0.002  # a wake-up later than this is noted
PERIOD_S = 0.001
PRIORITY = 90  # above jackd's (10 by default) and its clients', below the kernel's own (99)


def _probe(cpu: int, stop, results) -> None:
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(PRIORITY))
    except PermissionError:
        results.put((cpu, None))
        return
    late = []
    due = time.monotonic()
    while not stop.is_set():
        due += PERIOD_S
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        now = time.monotonic()
        if now - due > THRESHOLD_S:
            late.append((time.time() - (now - due), now - due))  # when it stopped (wall clock), for how long
            due = now
    results.put((cpu, late))


class StallProbe:
    """`with StallProbe() as probe: ...`, then `probe.stalls` (wall-clock start, seconds) over all
    CPUs, stalls that overlap merged, and `probe.available`."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self._processes = [context.Process(target=_probe, args=(cpu, self._stop, self._results), daemon=True)
                           for cpu in sorted(os.sched_getaffinity(0))]
        self.available = False
        self.stalls: list[tuple[float, float]] = []

    def __enter__(self) -> "StallProbe":
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        found = []
        for _ in self._processes:
            try:
                found.append(self._results.get(timeout=10))
            except queue.Empty:  # a probe that died measured nothing
                found.append((None, None))
        for process in self._processes:
            process.join(10)
        self.available = all(late is not None for _, late in found)
        merged: list[tuple[float, float]] = []
        for start, length in sorted(stall for _, late in found if late for stall in late):
            if merged and start <= merged[-1][0] + merged[-1][1]:
                first, first_length = merged[-1]
                merged[-1] = (first, max(first_length, start + length - first))
            else:
                merged.append((start, length))
        self.stalls = merged if self.available else []

    def longer_than(self, seconds: float) -> list[tuple[float, float]]:
        return [stall for stall in self.stalls if stall[1] > seconds]

    def summary(self) -> str:
        if not self.available:
            return "machine stalls not measured (no real-time priority here)"
        longest = max((length for _, length in self.stalls), default=0.0)
        return (f"machine stalls over {THRESHOLD_S * 1000:.0f} ms: {len(self.stalls)}, the longest "
                f"{longest * 1000:.1f} ms")
