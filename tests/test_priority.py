"""The daemon's threads run at a raised priority, and the thread that started it gets its own back."""

from __future__ import annotations

import os
import threading

from conftest import ClockedCapture, wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.inputs.osc.server import OscConfig
from mrtd.lifecycle import AUDIO_NICE


def _nice_of(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of proc(5), counted after the command name


def _may_raise() -> bool:
    allowed = []

    def probe() -> None:  # a throwaway thread: nice is per thread on Linux
        try:
            os.setpriority(os.PRIO_PROCESS, 0, AUDIO_NICE)
            allowed.append(True)
        except OSError:
            allowed.append(False)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return allowed[0]


def test_the_daemon_threads_run_raised_and_the_starting_thread_gets_its_nice_back(tmp_path):
    # Raising needs root, CAP_SYS_NICE or RLIMIT_NICE (CI runs as root). Where it is not
    # allowed the daemon plays at the nice it was started with, and says so only at debug level.
    raised = AUDIO_NICE if _may_raise() else 3
    seen: dict[str, int] = {}

    def host_program() -> None:  # e.g. a notebook or a test run: a thread that goes on after stop
        os.setpriority(os.PRIO_PROCESS, 0, 3)
        daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), cache_dir=str(tmp_path)),
                        engine=RecordingEngine(), output=ClockedCapture())
        daemon.start()
        try:
            wait_for(lambda: daemon.generator.frames > 3, 5, "the music to start")
            workers = [t for t in threading.enumerate() if t.name.startswith("mrtd-") and t.native_id]
            seen["workers"] = max(_nice_of(t.native_id) for t in workers)
            seen["during"] = os.getpriority(os.PRIO_PROCESS, 0)
        finally:
            daemon.stop()
        seen["after"] = os.getpriority(os.PRIO_PROCESS, 0)

    host = threading.Thread(target=host_program)
    host.start()
    host.join(30)
    assert seen == {"workers": raised, "during": raised, "after": 3}
