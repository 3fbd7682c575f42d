"""lifecycle.py: every thread's start and stop, bounded and logged, and written in one place."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from mrtd.lifecycle import STOP_TIMEOUT_S, Worker, spawn

PACKAGE = Path(__file__).resolve().parent.parent / "daemon" / "mrtd"
WAIT_S = 5.0  # how long a test waits for an event that should come at once


def test_a_loop_that_honours_the_flag_stops_and_says_so():
    started = threading.Event()
    worker: Worker

    def loop() -> None:
        started.set()
        worker.stopping.wait()

    worker = Worker("test-honours", loop)
    worker.start()
    assert started.wait(WAIT_S) and worker.running
    assert worker.stop() is True
    assert not worker.running


def test_a_loop_that_ignores_the_flag_is_left_behind_within_the_bound_and_named(caplog):
    started, release = threading.Event(), threading.Event()

    def loop() -> None:  # never looks at the flag: only the test lets it go
        started.set()
        release.wait(WAIT_S)

    worker = Worker("test-ignores-the-flag", loop)
    worker.start()
    assert started.wait(WAIT_S)
    try:
        with caplog.at_level(logging.WARNING, logger="mrtd.lifecycle"):
            assert worker.stop(timeout=0.05) is False
        assert any("test-ignores-the-flag" in r.getMessage() and "did not stop" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        release.set()


def test_stop_calls_wake_after_setting_the_flag_so_a_blocked_loop_ends():
    blocked = threading.Event()
    seen_flag: list[bool] = []
    worker: Worker

    def wake() -> None:
        seen_flag.append(worker.stopping.is_set())
        blocked.set()

    def loop() -> None:
        blocked.wait()  # blocked on something other than the flag (a queue, a socket)

    worker = Worker("test-wake", loop, wake=wake)
    worker.start()
    assert worker.stop() is True
    assert seen_flag == [True]


def test_a_worker_never_started_stops_at_once_without_waking():
    woken = []
    worker = Worker("test-never-started", lambda: None, wake=lambda: woken.append(1))
    assert worker.stop() is True and woken == []


def test_an_exception_in_a_spawned_thread_is_logged_with_its_name(caplog):
    def fail(what: str) -> None:
        raise RuntimeError(f"broken {what}")

    with caplog.at_level(logging.ERROR, logger="mrtd.lifecycle"):
        thread = spawn("test-spawned", fail, "engine")
        thread.join(WAIT_S)
    assert not thread.is_alive() and thread.daemon and thread.name == "test-spawned"
    failures = [r for r in caplog.records if "test-spawned" in r.getMessage()]
    assert failures and failures[0].exc_info and "broken engine" in str(failures[0].exc_info[1]), caplog.text


def test_an_exception_in_a_workers_loop_is_logged_too(caplog):
    def loop() -> None:
        raise ValueError("the loop's own bug")

    worker = Worker("test-failing-loop", loop)
    with caplog.at_level(logging.ERROR, logger="mrtd.lifecycle"):
        worker.start()
        assert worker.stop() is True
    assert any("test-failing-loop" in r.getMessage() and r.exc_info for r in caplog.records), caplog.text


def test_threads_are_started_only_in_lifecycle():
    """So no part brings back its own start/join boilerplate and timeouts: use Worker or spawn."""
    pattern = re.compile(r"\bThread\(")
    offenders = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path.name != "lifecycle.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == [], "threads started outside lifecycle.py:\n" + "\n".join(offenders)


def test_a_sinks_drain_fits_inside_the_stop_bound():
    from mrtd.audio.sinks import STOP_DRAIN_SECONDS

    assert STOP_DRAIN_SECONDS < STOP_TIMEOUT_S
