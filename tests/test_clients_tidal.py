"""clients/tidal/MRTD.hs driven by real TidalCycles 1.7 (runghc) against a running daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

from clients_rig import CLIENTS, REPO, running_daemon
from conftest import wait_for
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET

SESSION = REPO / "tests" / "clients" / "tidal_session.hs"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Start the Tidal session once for the module; it plays until the fixture closes its stdin.

    Yields (rig, the MRTD-TEST lines so far, what the daemon received: (address, args, due, arrival)).
    """
    if shutil.which("runghc") is None:
        pytest.fail("runghc is not installed: apt-get install libghc-tidal-dev (see .ci/run)")
    with running_daemon(tmp_path_factory.mktemp("tidal")) as rig:
        received: list[tuple[str, list, float | None, float]] = []
        server = rig.daemon.osc
        dispatch = server.dispatcher.dispatch

        def recording_dispatch(address, args, due, sender, reply):
            received.append((address, list(args), due, time.time()))
            dispatch(address, args, due, sender, reply)

        server.dispatcher.dispatch = recording_dispatch  # see every message with its timetag
        process = subprocess.Popen(
            ["runghc", f"-i{CLIENTS / 'tidal'}", str(SESSION)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "MRTD_PORT": str(rig.port)},
        )
        killer = threading.Timer(120, process.kill)  # bounds the whole module, compile included
        killer.start()
        lines: list[str] = []
        try:
            for text in process.stdout:  # read until the script reports its status, then let it play
                lines.append(text.rstrip("\n"))
                if text.startswith("MRTD-TEST STATUS") or "error" in text:
                    break
            yield rig, lines, received
            process.stdin.close()
            lines += process.stdout.read().splitlines()
            process.wait(30)
        finally:
            killer.cancel()
            process.kill()
        assert "MRTD-TEST DONE" in lines, "\n".join(lines)


def reported(lines: list[str], head: str) -> str:
    found = [l.removeprefix(f"MRTD-TEST {head} ") for l in lines if l.startswith(f"MRTD-TEST {head} ")]
    assert found, "\n".join(lines)
    return found[0]


def test_tidal_received_the_replies(session):
    _, lines, _ = session
    assert reported(lines, "PONG") == "7 x"
    status = dict(pair.split("=", 1) for pair in reported(lines, "STATUS").split("\t"))
    assert status["engine"] == "tone" and int(status["frames"]) > 0


def test_once_events_reach_the_engine(session):
    rig, _, _ = session
    rig.wait_engine(
        lambda c: np.allclose((c.temperature, c.top_k, c.cfg_notes, c.cfg_drums, c.drums), (2.6, 17, 3.5, 4.5, 1)),
        "sampling, guidance and drums from Tidal",
    )
    # note "2": Tidal's notes are relative to middle C; velocity 0.8 scales to 0-127.
    wait_for(lambda: any(c.notes[62] in (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL) for c in rig.engine.seen), 10, "note 62 from Tidal")
    rig.wait_snapshot("/mrt/volume", lambda v: v == [-3.0], "volume")
    # Tidal's cps (0.5625 by default) sets the tempo: one cycle is a bar of four beats.
    rig.wait_snapshot("/mrt/tempo", lambda v: v == [pytest.approx(135.0)], "tempo from cps")


def test_events_are_timetagged_bundles_sent_ahead(session):
    _, _, received = session
    wait_for(lambda: any(a == "/mrt/event" for a, *_ in received), 10, "an event from Tidal")
    events = [(args, due, arrival) for address, args, due, arrival in received if address == "/mrt/event"]
    for args, due, arrival in events:
        names = args[::2]
        assert {"cps", "cycle", "delta"} <= set(names), names
        assert due is not None, "Tidal sends bundles stamped with the event's time"
        assert -0.05 < due - arrival < 1.0, "sent ahead of its time by about oLatency (0.2 s)"


def test_patterns_on_the_grid_move_the_mix(session):
    rig, _, received = session
    wait_for(lambda: any("_id_" in args for a, args, *_ in received if a == "/mrt/event"), 10, "a d1 event")
    rig.wait_snapshot("/mrt/mix", lambda m: m == ["bright", 0.75, "dark", 0.25], "the mix from a d1 pattern", timeout=1.5)
