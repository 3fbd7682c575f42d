"""Soak: the synth engine on the JACK dummy device under a steady OSC load and scene reloads.

About two minutes in CI for each latency preset it runs at. For the long run before an installation:

    MRTD_SOAK_SECONDS=3600 .venv/bin/python -m pytest tests/test_soak.py -s
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import time
from datetime import datetime

import pytest

from conftest import free_udp_port, mrtd_frames, mrtd_status, wait_for
from mrtd.app.logs import PLAIN
from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.runtime.pacing import Pacing
from osc_probe import message
from stall_probe import StallProbe

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


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _cpu_times() -> dict[int, tuple[str, int]]:
    """{pid: (command name, clock ticks of CPU used so far)} for every process now."""
    times = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, _, rest = stat.read().rpartition(")")
            fields = rest.split()
            times[int(entry)] = (head.partition("(")[2], int(fields[11]) + int(fields[12]))
        except (ValueError, OSError, IndexError):
            continue
    return times


def _underrun_times(log_text: str) -> list[float]:
    """When the daemon saw the playout underrun (wall clock), from its log's margin widenings: at
    most one a second, each within a frame of an underrun."""
    return [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() for line in log_text.splitlines()
            if "latency margin widened" in line and "the playout underran" in line]


def _not_the_machine(underruns: int, seen_at: list[float], probe: StallProbe, margin_s: float) -> str:
    """"" when every underrun follows a stall of the whole machine longer than the margin, which no
    daemon can make music through (a shared CI machine's host takes its vCPUs now and then); else
    what is left unexplained."""
    stalls = probe.longer_than(margin_s)
    unexplained = [at for at in seen_at if not any(at - 1.0 <= start <= at for start, _ in stalls)]
    if underruns == 0 or (underruns <= len(stalls) and not unexplained):
        return ""
    return f"{underruns} underruns, {len(stalls)} machine stalls over {margin_s * 1000:.0f} ms, {len(unexplained)} seen with none"


def _who_else(before: dict[int, tuple[str, int]], seconds: float, ours: set[int]) -> str:
    """What else the machine ran while the soak did (the busiest four processes, CPU %), and the
    JACK server's clients: the first thing to read when the soak underruns on a busy machine."""
    tick = os.sysconf("SC_CLK_TCK")
    used = sorted(((ticks - before.get(pid, (name, 0))[1], name, pid) for pid, (name, ticks) in _cpu_times().items()
                   if pid not in ours), reverse=True)[:4]
    busiest = ", ".join(f"{name} ({pid}) {100 * ticks / tick / seconds:.0f}%" for ticks, name, pid in used)
    clients = sorted({port.split(":")[0] for port in subprocess.run(["jack_lsp"], capture_output=True, text=True,
                                                                    timeout=10).stdout.split()})
    return f"also busy: {busiest}; JACK clients: {', '.join(clients)}"


def _widening_logged_at(wall: float, why: str) -> str:
    """The line the daemon's log holds when its pacing widens the margin for `why` at `wall`."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record.created = wall
            record.msecs = (wall - int(wall)) * 1000
            lines.append(logging.Formatter(PLAIN).format(record))

    logger = logging.getLogger("mrtd")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        Pacing(0.004).trouble(why)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return "\n".join(lines)


def test_the_soak_excuses_an_underrun_only_just_after_the_machine_stopped_longer_than_the_margin():
    underran_at = time.time()
    log_text = "\n".join([_widening_logged_at(underran_at - 30, "steps took 9.0 ms"),  # no underrun
                          _widening_logged_at(underran_at, "the playout underran (its thread woke 12.0 ms late, "
                                                           "its step took 3.0 ms)")])
    seen_at = _underrun_times(log_text)
    assert seen_at == [pytest.approx(underran_at, abs=0.001)], "only the underrun's line, at its time"
    probe = StallProbe()
    probe.available = True
    margin_s = 0.004
    probe.stalls = [(underran_at - 0.3, 0.012)]
    assert _not_the_machine(1, seen_at, probe, margin_s) == "", "the machine stopped 12 ms just before"
    probe.stalls = [(underran_at - 0.3, 0.003)]
    assert _not_the_machine(1, seen_at, probe, margin_s), "a stall shorter than the margin excuses nothing"
    probe.stalls = [(underran_at - 5.0, 0.012)]
    assert _not_the_machine(1, seen_at, probe, margin_s), "a stall seconds before excuses nothing"
    probe.stalls = [(underran_at - 0.3, 0.012)]
    assert _not_the_machine(2, seen_at, probe, margin_s), "one stall excuses one underrun"
    probe.stalls = []
    assert _not_the_machine(0, [], probe, margin_s) == ""


@pytest.mark.parametrize("latency", ["low", "balanced"])  # the smallest margin, and the default
def test_soak_on_the_jack_device(jack_server, tmp_path, latency):
    """`mrtd run` in its own process, as an installation runs it (not inside this test process,
    whose threads and heap a thousand tests have grown), on the JACK device."""
    scene = tmp_path / "soak.yaml"
    scene.write_text(SCENE.format(version=0))
    (tmp_path / "mrtd.yaml").write_text(f"cache_dir: {tmp_path / 'cache'}\n")
    port = free_udp_port()
    with StallProbe() as probe:  # from before the daemon starts: an underrun in its warm-up counts too
        daemon = subprocess.Popen(
            [sys.executable, "-m", "mrtd", "run", "--config", str(tmp_path / "mrtd.yaml"), "--engine", "synth",
             "--output", "default", "--latency", latency, "--scene", str(scene), "--osc-port", str(port), "--no-midi",
             "--no-web", "--state-dir", str(tmp_path / "state"), "--record-dir", str(tmp_path / "recordings")],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "mrtd.log", "w"))
        try:
            wait_for(lambda: daemon.poll() is not None or mrtd_frames(port) > 100, 30, "warm-up", every=1.0)
            assert daemon.poll() is None, (tmp_path / "mrtd.log").read_text()[-3000:]
            assert mrtd_status(port)["output"].startswith("device:")
            sender = multiprocessing.get_context("spawn").Process(target=_sender, args=(port, SECONDS, RATE,
                                                                                        os.getpriority(os.PRIO_PROCESS, 0)))
            sender.start()
            settled = mrtd_frames(port) + 125  # 5 s of audio: allocator pools and caches settle
            wait_for(lambda: mrtd_frames(port) > settled, 15, "the baseline", every=1.0)
            rss_before, fds_before = _rss(daemon.pid), _fds(daemon.pid)
            cpu_before = _cpu_times()
            saves = good = broken_saves = 0
            started = time.monotonic()
            while sender.is_alive():
                saves += 1
                broken = saves % 3 == 0  # every third save is a typo: refused, the old one plays on
                scene.write_text(SCENE.format(version=saves) + ("  - {bogus: 1}\n" if broken else ""))
                broken_saves, good = broken_saves + broken, good if broken else saves
                sender.join(timeout=7)
            elapsed = time.monotonic() - started
            others = _who_else(cpu_before, elapsed, {daemon.pid, sender.pid})
            wait_for(lambda: mrtd_status(port)["scene"] == f"soak {good}", 10, "the last good save to play", every=1.0)
            status = mrtd_status(port)
            rss_growth, fd_growth = _rss(daemon.pid) - rss_before, _fds(daemon.pid) - fds_before
        finally:
            daemon.terminate()
            daemon.wait(20)
    print(f"soak: {elapsed:.0f} s, {status['osc_packets']} OSC packets, {saves} scene saves (playing "
          f"{status['scene']!r}, {broken_saves} broken), underruns {status['underruns']}; margin "
          f"{status['margin_ms']} ms (set {status['margin_set_ms']}; {status['margin_widened']}), control latency "
          f"{status['control_latency_ms']} ms, RSS growth {rss_growth / 2**20:.1f} MiB, fd growth {fd_growth}; "
          f"{probe.summary()}; {others}")
    log_text = (tmp_path / "mrtd.log").read_text()
    # Every underrun is one too many, unless the whole machine stopped longer than the margin
    # just before it: then no daemon could have filled the ring (it happens on shared CI machines).
    unexplained = _not_the_machine(int(status["underruns"]), _underrun_times(log_text), probe,
                                   LATENCY_PRESETS[latency].margin_ms / 1000)
    assert not unexplained, "\n".join([unexplained, probe.summary(), others]
                                       + [line for line in log_text.splitlines() if "latency margin" in line])
    assert rss_growth < RSS_GROWTH_BOUND
    assert fd_growth <= 0
    refused = log_text.count("not reloaded; the old version keeps playing")
    assert refused == broken_saves, "each broken save refused in the log, once"
    assert int(status["osc_packets"]) > 0.9 * RATE * SECONDS
    assert daemon.returncode == 0, "a clean stop"
