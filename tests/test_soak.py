"""Soak: the synth engine on the JACK dummy device under a steady OSC load and scene reloads.

About two minutes in CI for each latency preset it runs at. For the long run before an installation:

    MRTD_SOAK_SECONDS=3600 .venv/bin/python -m pytest tests/test_soak.py -s
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import time

import pytest

from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.inputs.osc.server import OscConfig
from osc_probe import message

SECONDS = float(os.environ.get("MRTD_SOAK_SECONDS", "100"))
RATE = 1000  # OSC messages per second
RSS_GROWTH_BOUND = 40 * 2**20  # bytes, after warm-up


def _sender(port: int, seconds: float, rate: int, nice: int) -> None:
    """Another process: a performer, a tablet and a sequencer at once, paced by absolute deadlines.

    It runs at the nice the test had before the daemon raised its own threads (a performer's
    programs run at normal priority; spawned from the raised thread it would inherit -10)."""
    os.setpriority(os.PRIO_PROCESS, 0, max(nice, os.getpriority(os.PRIO_PROCESS, 0)))
    rng = random.Random(5)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    batch = rate // 100
    started = time.monotonic()
    for tick in range(int(seconds * 100)):
        while time.monotonic() < started + tick / 100:
            time.sleep(0.001)
        for _ in range(batch):
            kind = rng.random()
            if kind < 0.6:
                packet = message("/mrt/cfg/style", rng.uniform(-1, 7))
            elif kind < 0.75:
                packet = message("/mrt/note/on" if rng.random() < 0.5 else "/mrt/note/off", rng.randrange(40, 90))
            elif kind < 0.85:
                packet = message("/mrt/mix", "a", rng.random(), "b", rng.random(), rng.uniform(0, 2))
            elif kind < 0.95:
                packet = message("/mrt/xy", rng.random(), rng.random())
            else:
                packet = message("/mrt/temperature", "not a number")  # the odd broken message
            sock.sendto(packet, ("127.0.0.1", port))


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


SCENE = """name: soak {version}
prompts:
  a: {{text: "warm pads", position: [0, 0]}}
  b: {{text: "bright plucks", position: [1, 1]}}
cues:
  - {{name: one, at: 0, mix: {{a: 1}}, fade: 2}}
  - {{name: two, at: 5, mix: {{b: 1}}, fade: 2}}
loop: true
length: 10
"""


@pytest.mark.parametrize("latency", ["low", "balanced"])  # the smallest margin, and the default
def test_soak_on_the_jack_device(jack_server, tmp_path, latency):
    scene = tmp_path / "soak.yaml"
    scene.write_text(SCENE.format(version=0))
    daemon = Daemon(DaemonConfig(engine="synth", output="default", osc=OscConfig(port=0), scene=str(scene),
                                 cache_dir=str(tmp_path / "cache"), midi=False, state_dir=str(tmp_path / "state"),
                                 latency=latency))
    normal_nice = os.getpriority(os.PRIO_PROCESS, 0)
    daemon.start()
    try:
        assert daemon.output.describe().startswith("device:")
        wait_for(lambda: daemon.generator.frames > 100, 10, "warm-up")
        sender = multiprocessing.get_context("spawn").Process(target=_sender, args=(daemon.osc.port, SECONDS, RATE, normal_nice))
        sender.start()
        settled = daemon.generator.frames + 125  # 5 s of audio: allocator pools and caches settle
        wait_for(lambda: daemon.generator.frames > settled, 15, "the baseline")
        rss_before, fds_before = _rss(), _fds()
        reloads = 0
        started = time.monotonic()
        while sender.is_alive():
            reloads += 1
            broken = reloads % 3 == 0  # every third save is a typo: refused, the old one plays on
            scene.write_text(SCENE.format(version=reloads) + ("  - {bogus: 1}\n" if broken else ""))
            sender.join(timeout=7)
        elapsed = time.monotonic() - started
        wait_for(lambda: daemon.control.pending() == 0, 10, "the schedule to drain")
        status = daemon.status()
        where = (f"playout {daemon.playout.underruns}, device {daemon.output.device_underruns}; margin "
                 f"{status['margin_ms']} ms (set {status['margin_set_ms']}), control latency {status['control_latency_ms']} ms")
        rss_growth, fd_growth = _rss() - rss_before, _fds() - fds_before
    finally:
        daemon.stop()
    print(f"soak: {elapsed:.0f} s, {daemon.osc.counters.messages} OSC messages, {reloads} scene saves "
          f"({daemon.scenes.reloads} reloads), underruns {status['underruns']} ({where}), "
          f"RSS growth {rss_growth / 2**20:.1f} MiB, fd growth {fd_growth}")
    assert status["underruns"] == 0
    assert rss_growth < RSS_GROWTH_BOUND
    assert fd_growth <= 0
    assert daemon.scenes.reloads >= reloads // 2
    assert daemon.osc.counters.messages > 0.9 * RATE * SECONDS
