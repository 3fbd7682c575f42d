"""A running daemon for the client tests: real OSC on an ephemeral loopback port, a RecordingEngine.

Client programs (sclang, Pd, Tidal, the Python client) get `rig.port`; the
tests then read what the engine was conditioned on (`rig.engine.seen[-1]`)
and the daemon's published state (`rig.daemon.snapshot`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from conftest import running_daemon as daemon_on_loopback
from conftest import wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon
from mrtd.conditioning import Conditioning

REPO = Path(__file__).resolve().parent.parent
CLIENTS = REPO / "clients"


@dataclass
class Rig:
    daemon: Daemon
    engine: RecordingEngine

    @property
    def port(self) -> int:
        assert self.daemon.osc is not None
        return self.daemon.osc.port

    def conditioning(self) -> Conditioning | None:
        return self.engine.seen[-1] if self.engine.seen else None

    def wait_engine(self, check, what: str, timeout: float = 10.0) -> None:
        """Wait until the latest frame's conditioning satisfies `check`."""
        wait_for(lambda: (c := self.conditioning()) is not None and check(c), timeout, what)

    def wait_snapshot(self, address: str, check, what: str, timeout: float = 10.0) -> None:
        wait_for(lambda: address in self.daemon.snapshot and check(self.daemon.snapshot[address]), timeout, what)


@contextlib.contextmanager
def running_daemon(folder: Path) -> Iterator[Rig]:
    with daemon_on_loopback(folder) as (daemon, engine):
        yield Rig(daemon, engine)
