"""Run by tests/test_device_loss.py in a process of its own (see there why). Prints one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from conftest import wait_for


def jackd(name: str) -> subprocess.Popen:
    process = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    waited = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, text=True)
    assert "available" in waited.stdout, waited.stdout + waited.stderr
    return process


def main() -> None:
    name = f"mrtd-loss-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    server = jackd(name)
    from mrtd.app.daemon import Daemon, DaemonConfig  # after JACK_DEFAULT_SERVER: PortAudio reads it at start

    result: dict = {}
    daemon = Daemon(DaemonConfig(engine="synth", output="default", osc=None, midi=False, cache_dir=tempfile.mkdtemp()))
    daemon.start()
    try:
        result["before"] = daemon.output.describe()
        wait_for(lambda: daemon.playout.samples_out > 48000, 10, "a second on the device")
        server.terminate()  # the server goes away (a SIGKILL would leave its shared memory registered)
        server.wait(10)
        wait_for(lambda: daemon.status()["device"].startswith("lost"), 10, "the loss to be noticed")
        result["after"] = daemon.output.describe()
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > frames + 50, 10, "two seconds of music without the device")
        result["frames_without_device"] = daemon.generator.frames - frames
        result["healthy"] = daemon.device_watch.healthy
        looked = time.monotonic() + 2.0  # /health's judge: a fresh look, not the last second's answer
        daemon.health.clock = lambda: looked
        result["health"] = daemon.audio_health()
        status = daemon.status()
        result.update({k: status[k] for k in ("device", "device_losses", "engine_faults", "last_error_age_s")})
        daemon.runner.stop()
    finally:
        print(json.dumps(result), flush=True)
        # PortAudio cannot let go of a stream whose server died (Pa_Terminate aborts): leave without atexit.
        os._exit(0)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
