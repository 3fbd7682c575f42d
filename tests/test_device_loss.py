"""The sound card goes away (here: its JACK server is killed); the music goes on without it.

PortAudio cannot close a stream whose JACK server died, and re-initialising it
then aborts the process, so the device cannot come back inside this process:
the daemon plays on into the null output and reports itself unhealthy, which
under systemd (WatchdogSec) gets it restarted on the device, resuming from
the journal (tests/test_restart.py). For the same reason the scenario runs in
a process of its own, which leaves without PortAudio's exit handler.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_a_lost_device_keeps_the_music_going(tmp_path):
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("device_loss_scenario.py"))],
                            capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert seen["before"].startswith("device:"), seen
    assert seen["after"] == "null" and seen["device"].startswith("lost"), seen
    assert seen["frames_without_device"] > 50, "the music went on"
    assert seen["healthy"] is False, "so the watchdog stops pinging and systemd restarts mrtd"
    assert seen["health"].startswith("audio device lost"), "and /health answers 503 saying why"
    assert 0 < seen["last_error_age_s"] < 10, "/metrics' last error age counts from the loss"
    assert seen["device_losses"] == 1 and seen["engine_faults"] == 0
