"""Shared fixtures: a JACK dummy server, and a sink that records what the listener hears."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as mrtd itself does, before numpy loads

import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from mrtd.audio.outputs import PacedOutput
from mrtd.frame import CHANNELS, SAMPLE_RATE


@pytest.fixture(autouse=True)
def _process_state_as_found():
    """A test that runs `mrtd`'s main in this process leaves the process as it found it.

    main does what `mrtd` does for its own process: it routes logging through a queue whose
    writer holds this test's stderr (closed once the test ends: every later test's records then
    print "Logging error ... I/O operation on closed file"), and sets $MAGENTA_HOME from the
    config (later tests' daemons then looked for models in this test's folder)."""
    from mrtd.app import logs

    home = os.environ.get("MAGENTA_HOME")
    yield
    if logs._listener is not None:
        logs.stop_logging()  # writes out what is queued, then lets go of the stream
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, logs.DroppingQueueHandler):
                root.removeHandler(handler)
    if home is None:
        os.environ.pop("MAGENTA_HOME", None)
    else:
        os.environ["MAGENTA_HOME"] = home


def pytest_sessionstart(session) -> None:
    """Clear what killed JACK servers left in /dev/shm, when no server runs.

    A jackd that dies without cleaning up keeps its entries in JACK's shared-memory
    registry; enough of them and no new server can register (seen here: every named
    test server then timed out at start). With no jackd running, nothing there is live.
    """
    if _jackd_running() or not os.path.isdir("/dev/shm"):
        return
    for name in os.listdir("/dev/shm"):
        if name.startswith("jack"):
            path = os.path.join("/dev/shm", name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)


def _jackd_running() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == "jackd":
                    return True
        except OSError:
            continue
    return False


class CaptureOutput(PacedOutput):
    """A real-time paced sink that keeps every block it plays, and signals when it has enough."""

    name = "capture"

    def __init__(self, wanted_samples: int) -> None:
        super().__init__()
        self._blocks: list[np.ndarray] = []
        self.wanted = wanted_samples
        self.captured = 0
        self.enough = threading.Event()

    def _consume(self, block: np.ndarray) -> None:
        self._blocks.append(block.copy())
        self.captured += len(block)
        if self.captured >= self.wanted:
            self.enough.set()

    def audio(self) -> np.ndarray:
        return np.concatenate(self._blocks) if self._blocks else np.zeros((0, CHANNELS), np.float32)


@pytest.fixture(scope="session")
def jack_server():
    """A JACK server on the dummy backend, paced by a real clock (so underruns are real)."""
    if shutil.which("jackd") is None:
        pytest.fail("jackd is not installed: apt-get install jackd2 (see .ci/run)")
    already = subprocess.run(["jack_wait", "-c"], capture_output=True, text=True).stdout
    process = None
    if "not running" in already:  # jack_wait always exits 0: read what it says
        process = subprocess.Popen(
            # Real-time scheduling, as on an audio machine (root may; where it may not, jackd
            # carries on without). Without it the server's own thread, delayed by the rest of
            # a busy CI box, reported xruns to every client (seen: 1 in 10 s, ring untouched).
            ["jackd", "-R", "-P", "70", "-d", "dummy", "-r", "48000", "-p", "1024"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"},
        )
        waited = subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, text=True)
        if "available" not in waited.stdout:
            process.kill()
            pytest.fail(f"jackd did not start: {waited.stdout} {waited.stderr}")
    import sounddevice as sd

    # PortAudio lists devices when it initialises: re-scan now that JACK is up.
    sd._terminate()
    sd._initialize()
    yield sd
    if process is not None:
        sd._terminate()  # let go of JACK before it goes away
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # jackd can hang on exit while a client lingers
            process.kill()
            process.wait(5)
        sd._initialize()


def free_udp_port() -> int:
    """A loopback UDP port nobody holds now, for a daemon started in its own process."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mrtd_status(port: int) -> dict[str, str]:
    """What `mrtd status` prints for the daemon on `port`, as a gallery technician would ask it;
    AssertionError (with its words) when it does not answer."""
    done = subprocess.run([sys.executable, "-m", "mrtd", "status", "--port", str(port), "--timeout", "5"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in done.stdout.splitlines())}


def mrtd_frames(port: int) -> int:
    """Frames the daemon on `port` has made so far; -1 while it does not answer yet."""
    try:
        return int(mrtd_status(port)["frames"])
    except AssertionError:
        return -1


def wait_for(condition, timeout: float, what: str, every: float = 0.01) -> None:
    """Wait for a condition driven by the audio clock (polled `every` seconds), failing with `what`
    on timeout. A condition that asks another process (`mrtd status`: a Python start, 0.2 s of CPU)
    polls about once a second, as a person or a monitor would: asked back to back, it takes a core
    of a two-core machine from the daemon it watches."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def control_state(daemon) -> dict:
    """What a control surface shows, minus the running musical clock (time is not state)."""
    return {address: args for address, args in daemon.snapshot.items() if address != "/mrt/beat"}


class ClockedCapture(CaptureOutput):
    """A real-time paced sink that records, for every block, which ring sample it played and when."""

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__(wanted_samples=1 << 62)
        self.sample_rate = sample_rate
        self.heard: list[tuple[int, float]] = []

    def _consume(self, block: np.ndarray) -> None:
        self.heard.append(self.playout.clock)

    def frame_heard_at(self, monotonic: float) -> int:
        """Ground truth: the frame whose audio was playing at `monotonic`."""
        best = max((pair for pair in self.heard if pair[1] <= monotonic), key=lambda p: p[1])
        sample = best[0] + (monotonic - best[1]) * self.sample_rate
        frame = int(sample / self.playout.samples_per_frame)
        while self.playout.frame_start(frame + 1) <= sample:  # exact boundaries, not the float estimate
            frame += 1
        while self.playout.frame_start(frame) > sample:
            frame -= 1
        return frame


@contextlib.contextmanager
def running_daemon(folder, engine=None, wall_clock=None, **config):
    """A daemon on a RecordingEngine, the null output and OSC on a free loopback port.

    Yields (daemon, engine); `config` overrides DaemonConfig fields; `wall_clock` (epoch seconds)
    is the clock scenes on the clock play by.
    """
    from engines_for_tests import RecordingEngine
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.inputs.osc.server import OscConfig

    engine = engine or RecordingEngine()
    settings = dict(output="null", osc=OscConfig(port=0), scene_dir=str(folder / "scenes"),
                    record_dir=str(folder / "recordings"), cache_dir=str(folder / "cache"))
    daemon = Daemon(DaemonConfig(**(settings | config)), engine=engine, wall_clock=wall_clock)
    daemon.start()
    try:
        yield daemon, engine
    finally:
        daemon.stop()


@contextlib.contextmanager
def probed_daemon(folder, **config):
    """running_daemon plus an OscProbe on its port: yields (daemon, engine, probe)."""
    from osc_probe import OscProbe

    with running_daemon(folder, **config) as (daemon, engine):
        probe = OscProbe(daemon.osc.port)
        try:
            yield daemon, engine, probe
        finally:
            probe.close()


@contextlib.contextmanager
def clocked_daemon(folder, **config):
    """A daemon on a RecordingEngine whose output is a ClockedCapture (the frame heard at each
    wall time is known exactly), OSC on a free loopback port, playing: yields (daemon, engine,
    sink, probe). `config` adds DaemonConfig fields."""
    from engines_for_tests import RecordingEngine
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.inputs.osc.server import OscConfig
    from osc_probe import OscProbe

    engine, sink = RecordingEngine(), ClockedCapture()
    daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), cache_dir=str(folder), **config), engine=engine, output=sink)
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        wait_for(lambda: daemon.generator.frames > 10, 5, "the music to start")
        yield daemon, engine, sink, probe
    finally:
        probe.close()
        daemon.stop()


def timetag_misses(engine, sink: ClockedCapture, probe, count: int, seed: int = 7) -> list[int]:
    """Send `count` timetagged /mrt/temperature bundles 0.3-0.5 s ahead; for each, how many frames
    the engine's frame that first saw it differs from the frame heard at its timetag (0 = exact)."""
    import random

    from osc_probe import bundle, message

    rng = random.Random(seed)
    misses = []
    for i in range(count):
        value = round(0.15 + i * 0.2, 3)  # never the default 1.1
        wall = time.time() + 0.3 + rng.random() * 0.2  # well over one lead (120 ms) ahead
        monotonic = wall - time.time() + time.monotonic()
        probe.send_raw(bundle(wall, message("/mrt/temperature", value)))
        wait_for(lambda: any(abs(c.temperature - value) < 1e-6 for c in engine.seen), 5, f"bundle {i}")
        landed = next(k for k, c in enumerate(engine.seen) if abs(c.temperature - value) < 1e-6)
        wait_for(lambda: sink.heard and sink.heard[-1][1] > monotonic + 0.05, 5, "the frame to be heard")
        misses.append(landed - sink.frame_heard_at(monotonic))
    return misses
