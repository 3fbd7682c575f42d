"""Running for weeks: systemd notify/watchdog, unit files, logs, the state journal."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CaptureOutput
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.core.journal import Journal
from mrtd.app.logs import JsonFormatter, RepeatLimiter
from mrtd.core.banks import StateBanks
from mrtd.core.scenes import SceneHost
from mrtd.app.systemd import Notifier, Progress
from mrtd.app.chain import AudioChain
from mrtd.audio.recorder import Recorder
from mrtd.feedback.push import Pusher
from mrtd.inputs.osc.server import OscConfig, OscServer
from mrtd.runtime.runner import Runner
from mrtd.style.encoder import EncoderWorker

ROOT = Path(__file__).parent.parent


@pytest.fixture
def notify_socket(tmp_path):
    """A fake systemd: a datagram socket that collects what the service says."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield path, sock
    sock.close()


def _messages(sock, until: str, limit: int = 50) -> list[str]:
    got = []
    for _ in range(limit):
        got.append(sock.recv(4096).decode())
        if until in got[-1]:
            return got
    raise AssertionError(f"{until} never came: {got}")


class NoticesBeforeWarm(RecordingEngine):
    """Takes what had reached the notify socket when its warm-up ended: a datagram is
    queued as soon as it is sent, so a READY sent too early is already there."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.warm_ups = 0
        self.notices_before_warm: list[str] = []

    def warm_up(self, steps: int = 4) -> None:
        super().warm_up(steps)
        self.warm_ups += 1
        timeout = self._sock.gettimeout()
        self._sock.setblocking(False)
        try:
            while True:
                self.notices_before_warm.append(self._sock.recv(4096).decode())
        except BlockingIOError:
            pass
        finally:
            self._sock.settimeout(timeout)


def test_ready_after_warm_up_and_watchdog_only_while_the_audio_flows(notify_socket, tmp_path, monkeypatch):
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # pings every 0.1 s
    engine = NoticesBeforeWarm(sock)
    daemon = Daemon(DaemonConfig(osc=None, midi=False, cache_dir=str(tmp_path)), engine=engine, output=CaptureOutput(1 << 62))
    daemon.start()
    try:
        assert engine.warm_ups == 1
        assert not any("READY=1" in m for m in engine.notices_before_warm), "READY came before the warm-up had finished"
        ready = _messages(sock, "READY=1")
        assert "STATUS=playing" in ready[-1]
        _messages(sock, "WATCHDOG=1")
        _messages(sock, "WATCHDOG=1")
        daemon.runner.stop()  # the generation loop wedges: no new frames, so no more pings
        sock.settimeout(0.6)
        stale = []
        try:
            while True:
                stale.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        assert stale.count("WATCHDOG=1") <= 1, "at most the ping already in flight"
    finally:
        daemon.stop()


def test_the_watchdog_stays_quiet_while_underruns_grow():
    frames, underruns = [0], [0]
    healthy = Progress(lambda: frames[0], lambda: underruns[0])
    frames[0] = 25
    assert healthy()
    frames[0], underruns[0] = 50, 1
    assert not healthy(), "new underruns: no ping"
    frames[0] = 75
    assert healthy(), "recovered"
    assert not healthy(), "no new frames: no ping"


def test_notify_reaches_an_abstract_socket():
    name = f"mrtd-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.ready("warm")
        assert sock.recv(100) == b"READY=1\nSTATUS=warm"
        notifier.close()
    finally:
        sock.close()
    assert not Notifier({}).enabled and Notifier({}).send("READY=1") is False


@pytest.mark.parametrize("unit", ["mrtd.service", "mrtd-user.service"])
def test_the_unit_files_verify(unit, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (see .ci/run)")
    text = (ROOT / "systemd" / unit).read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=on-failure" in text
    mrtd = Path(sys.executable).with_name("mrtd")
    # Point ExecStart at this checkout's mrtd, so verify can check it is executable.
    text = text.replace("/opt/mrtd/.venv/bin/mrtd", str(mrtd)).replace("%h/mrtd/.venv/bin/mrtd", str(mrtd))
    copy = tmp_path / "mrtd.service"
    copy.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "mrtd.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_repeated_log_lines_are_held_back_and_counted():
    now = [0.0]
    limiter = RepeatLimiter(window_s=10, clock=lambda: now[0])
    record = lambda: logging.LogRecord("mrtd", logging.ERROR, __file__, 1, "engine failed on frame %d", (3,), None)  # noqa: E731
    assert limiter.filter(record())
    assert not any(limiter.filter(record()) for _ in range(99))
    now[0] = 11.0
    again = record()
    assert limiter.filter(again) and "repeated 99 more times" in again.getMessage()
    line = json.loads(JsonFormatter().format(again))
    assert line["level"] == "error" and line["message"].startswith("engine failed on frame 3")


def test_the_osc_service_is_advertised_over_mdns_on_loopback():
    from zeroconf import IPVersion, Zeroconf

    from mrtd.app.discovery import SERVICE_TYPE, advertise

    advertisement = advertise(7499, bind="127.0.0.1", name="mrtd test")
    assert advertisement is not None
    browser = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        found = browser.get_service_info(SERVICE_TYPE, f"mrtd test.{SERVICE_TYPE}", timeout=5000)
    finally:
        browser.close()
        advertisement.close()
    assert found is not None and found.port == 7499 and found.properties[b"root"] == b"/mrt"


def test_bound_to_every_interface_the_service_is_advertised_on_all_of_them(monkeypatch):
    """`--osc-bind 0.0.0.0 --discovery` (a tablet on the LAN) once handed zeroconf `None` for its
    interfaces, which it refuses with a TypeError the daemon did not expect. Zeroconf itself is
    replaced here, so no packet leaves loopback; its own check judges the choice."""
    import zeroconf
    from zeroconf._utils.net import normalize_interface_choice

    chosen = []

    class Recording:
        def __init__(self, interfaces, ip_version):
            chosen.append(normalize_interface_choice(interfaces, ip_version))

        def register_service(self, info):
            pass

    monkeypatch.setattr(zeroconf, "Zeroconf", Recording)
    from mrtd.app.discovery import advertise

    assert advertise(7499, bind="0.0.0.0", name="mrtd lan") is not None
    assert chosen and chosen[0], "every IPv4 interface this machine has"


def test_the_example_config_loads_and_flags_override_it():
    from mrtd.app.config import load_settings

    settings = load_settings(ROOT / "systemd" / "mrtd.yaml", {"osc_port": 7500, "engine": "synth"},
                             environ={"STATE_DIRECTORY": "/var/lib/mrtd"})  # as the unit's StateDirectory=mrtd sets it
    config = settings.daemon_config()
    assert config.engine == "synth" and config.osc.port == 7500 and config.osc.bind == "127.0.0.1"
    assert config.state_dir == "/var/lib/mrtd" and config.latency == "balanced" and config.lead_frames is None


def test_a_config_file_with_mistakes_lists_them_all(tmp_path):
    bad = tmp_path / "mrtd.yaml"
    bad.write_text("engine: synt\nlead_frame: 4\nosc:\n  bind: 0.0.0.0\n  prot: 7401\nlog_level: loud\n")
    result = subprocess.run([sys.executable, "-m", "mrtd", "run", "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    for line in (f"{bad}:1: engine:", f"{bad}:2: lead_frame: unknown key 'lead_frame' (did you mean 'lead_frames'?)",
                 f"{bad}:5: osc.prot: unknown key 'prot' (did you mean 'port'?)", f"{bad}:6: log_level:"):
        assert line in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    # one line for the misspelt osc key: the good one, not also Python's own words about __init__
    assert [line for line in result.stderr.splitlines() if "prot" in line] == [f"{bad}:5: osc.prot: unknown key 'prot' (did you mean 'port'?)"]


def test_an_osc_port_in_use_is_one_clear_line_at_start(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--output", "null", "--no-midi",
                                 "--osc-port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"cannot listen for OSC on 127.0.0.1:{port}: Address already in use (is another mrtd running?)" in result.stderr
    assert "Traceback" not in result.stderr


def _record_calls(monkeypatch, calls: list[str], methods: dict[tuple[type, str], str]) -> None:
    """Wrap each class's method so that a call appends its label to `calls`, then runs as before."""
    for (cls, method), label in methods.items():
        original = getattr(cls, method)

        def wrapped(self, *args, _original=original, _label=label, **kwargs):
            calls.append(_label)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapped)


def test_the_parts_stop_in_the_reverse_of_the_order_they_started(tmp_path, monkeypatch):
    """Each part stops while every part started before it (and so that it may rely on) still
    runs: the journal's last write while the music flows, the sinks and the recording after
    the runner's last frame, the engine last of all."""
    starts: list[str] = []
    stops: list[str] = []
    _record_calls(monkeypatch, starts, {
        (AudioChain, "runner_for"): "sinks", (SceneHost, "start"): "scenes", (Runner, "start"): "runner",
        (AudioChain, "start_master"): "master", (Journal, "start"): "journal", (Pusher, "start"): "pusher",
        (StateBanks, "start"): "state banks", (EncoderWorker, "start"): "encoder", (OscServer, "start"): "osc", (Notifier, "start_watchdog"): "notifier",
    })
    _record_calls(monkeypatch, stops, {
        (Recorder, "stop"): "recorder", (AudioChain, "stop_sinks"): "sinks", (SceneHost, "stop"): "scenes",
        (Runner, "stop"): "runner", (AudioChain, "stop_master"): "master", (Journal, "stop"): "journal",
        (StateBanks, "stop"): "state banks", (Pusher, "stop"): "pusher", (EncoderWorker, "stop"): "encoder", (OscServer, "stop"): "osc",
        (Notifier, "stopping"): "notifier", (RecordingEngine, "close"): "engine",
    })
    daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), midi=False, cache_dir=str(tmp_path), state_dir=str(tmp_path),
                                 outputs=[f"wav:{tmp_path / 'take.wav'}"]),
                    engine=RecordingEngine(), output=CaptureOutput(1 << 62))
    daemon.start()
    try:
        assert starts == ["sinks", "scenes", "runner", "master", "journal", "state banks", "pusher", "encoder", "osc",
                          "notifier"]
        # The recorder has no start of its own: it joins with its tap on the generator, before the sinks.
        assert daemon.started_parts == ["recorder"] + starts
    finally:
        daemon.stop()
    assert stops == ["recorder", *starts][::-1] + ["engine"]
    assert daemon.started_parts == []


def test_a_start_that_fails_half_way_stops_only_what_it_started(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        daemon = Daemon(DaemonConfig(osc=OscConfig(port=taken.getsockname()[1]), midi=False, cache_dir=str(tmp_path)),
                        engine=RecordingEngine(), output=CaptureOutput(1 << 62))
        with pytest.raises(OSError):
            daemon.start()
    assert "osc" not in daemon.started_parts and daemon.started_parts[-1] == "encoder"
    daemon.stop()  # as the CLI does after a failed start: no part is stopped that never started
    assert daemon.started_parts == [] and not daemon.runner.running
    daemon.stop()  # and a second stop finds nothing left to stop
