"""Every thread mrtd starts, and the process-wide settings a real-time Python needs.

Threads are started here and nowhere else (tests/test_lifecycle.py holds that), in two shapes:

- `Worker`: a thread that runs until it is asked to stop: the runner, the journal, the paced
  outputs, the device supervisor, MIDI, Link, the systemd watchdog, the scene host's loader and
  watcher, mrt2's keep-warm, the pusher, the sinks' writers, the style encoder, the web and OSC
  servers. A part hands it its loop, which runs until the worker's `stopping` is set (and sleeps
  on it with `stopping.wait(s)`, so a stop never waits out a sleep). A loop that blocks on
  something else (a queue, a socket, an event loop) is also handed a `wake`, which `stop()`
  calls after setting the flag: it puts the queue's sentinel, sets the event, stops the loop.
  `stop()` then waits for the loop to finish its current step, at most `STOP_TIMEOUT_S`; a
  thread still running after that is named in the log (it is a daemon thread: it cannot keep
  the process alive).
- `spawn`: a one-shot thread nobody joins (closing or loading an engine, one TCP connection,
  a device call that may hang).

Either way, what the thread raises is logged with its name, not lost, and the daemon stops its
parts in the reverse of the order it started them (app/daemon.py).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from typing import Callable

log = logging.getLogger(__name__)

# The one bound on a stop, for every thread (no part picks its own): long enough for the
# slowest step a loop takes before it looks at the flag again: a model step on a slow CPU
# (2.5 s for mrt2_small here), a sink draining its buffer (audio/sinks.py's
# STOP_DRAIN_SECONDS, less than this), a scene load or a prompt being encoded, a device probe.
STOP_TIMEOUT_S = 5.0


class Worker:
    """One thread running `loop` until `stop()`; see the module's docstring."""

    def __init__(self, name: str, loop: Callable[[], None], wake: Callable[[], None] | None = None) -> None:
        """`wake`: called by `stop()` after the flag is set, to unblock a loop that is not
        waiting on `stopping` (a queue's `get`, a socket, an event loop); None: it is."""
        self.name = name
        self.stopping = threading.Event()
        self._loop = loop
        self._wake = wake
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stopping.clear()
        self._thread = spawn(self.name, self._loop)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Ask the loop to finish and wait for it; False (and a log line) when it did not in `timeout`."""
        self.stopping.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True  # never started (or stopped already): nothing to wake
        if self._wake is not None:
            self._wake()
        if thread is threading.current_thread():
            return True  # the loop stopping itself: it ends when it returns
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s did not stop within %.1f s; left running", self.name, timeout)
            return False
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def spawn(name: str, fn: Callable[..., object], *args: object) -> threading.Thread:
    """Run `fn(*args)` once on a daemon thread named `name`, and return at once.

    For work nobody waits on through a `Worker` (the caller keeps the returned thread, or an
    event `fn` sets, if it does wait). A daemon thread: one still running at exit does not
    keep the process alive.
    """
    thread = threading.Thread(target=_logged, args=(name, fn, args), name=name, daemon=True)
    thread.start()
    return thread


def _logged(name: str, fn: Callable[..., object], args: tuple[object, ...]) -> None:
    # Uncaught, an exception ends the thread with a traceback on stderr (threading.excepthook),
    # which under systemd or a test run is easily lost; the log is where everything else goes.
    try:
        fn(*args)
    except Exception:
        log.exception("thread %s failed", name)


AUDIO_NICE = -10  # what the systemd unit may also grant (Nice=); JACK's own threads run real-time


def raise_priority() -> int | None:
    """Run this thread, and every thread started from it afterwards, at a raised priority
    where the system allows it (root, CAP_SYS_NICE, or RLIMIT_NICE); otherwise as it is.
    Returns the nice value to hand to `restore_priority` at stop (None: nothing changed).

    Every daemon thread takes turns on the GIL with the audio callback. A thread that holds
    the GIL when the scheduler hands its core to another process keeps the callback waiting
    until it runs again: with the built-in synth and a 1,000 msgs/s OSC sender on 2 cores,
    1 and 3 device underruns in two 96 s runs on JACK (tests/test_soak.py) at normal
    priority, 0 and 0 raised.
    """
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)  # on Linux: this thread
        if current > AUDIO_NICE:
            os.setpriority(os.PRIO_PROCESS, 0, AUDIO_NICE)
            log.debug("priority raised to nice %d", AUDIO_NICE)
            return current
    except (OSError, AttributeError):  # not permitted here, or no such call on this platform
        log.debug("priority not raised: not permitted here")
    return None


def restore_priority(previous: int | None) -> None:
    """Give the calling thread back the nice value `raise_priority` found.

    `mrtd run` owns its process, but a daemon embedded in a host program (a test run, a
    notebook) borrows the host's thread: what the host starts after stop (other programs,
    a sender competing with the next daemon) must not inherit the raised priority.
    Lowering one's own priority is always permitted.
    """
    if previous is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, previous)
    except (OSError, AttributeError):
        log.debug("priority not restored")


def freeze_heap() -> None:
    """Put every object alive now out of the cyclic collector's reach (`gc.freeze`).

    A full collection walks every tracked object while it holds the GIL: over a started
    daemon's 60,000 objects (synth, web page) it took 34 ms, and 134 ms in a process that
    had also loaded magenta-rt's libraries: a frame or more, so an underrun (measured in
    tests/test_osc_timing.py's flood). What start built lives as long as the daemon; after
    the freeze a full collection only walks what came later (0.0 ms just after).
    """
    gc.freeze()


def thaw_heap() -> None:
    """Undo `freeze_heap` at stop, so what start built is collected as the process ends
    (native objects left frozen are reported as leaks at exit, e.g. by nanobind)."""
    gc.unfreeze()


_libc_trim: Callable[[int], int] | None = None


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing).

    A burst of work on many threads (thousands of TCP connections, a packet flood) leaves
    glibc holding what it freed, in per-thread arenas: after a 50,000-packet fuzz the
    daemon's RSS stayed 10 MB above where it started (110 -> 120 MB); with this called
    once the burst is over, 2 MB above (110 -> 112 MB, benchmarks/bench_osc_abuse.py). Call it off the generation thread, when a burst
    is over: it takes milliseconds and runs with the GIL released (ctypes).
    """
    global _libc_trim
    if _libc_trim is None:
        try:
            import ctypes

            _libc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _libc_trim = lambda _pad: 0  # noqa: E731
    _libc_trim(0)


def short_gil_turns() -> None:
    """Hand the GIL over every 1 ms instead of CPython's 5 ms.

    Every thread here (generator, OSC, MIDI, web, PortAudio's callback) takes turns on the GIL.
    At 5 ms, about one device period, a flood of OSC packets starved the generator into
    underruns, and a busy generator made the callback late (measured: 5 device underruns in
    10 s on JACK at 256 frames; none at 1 ms). Never lengthens an interval already shorter.
    """
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
