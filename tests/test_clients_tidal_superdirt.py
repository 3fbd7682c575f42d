"""Stock TidalCycles 1.7 (runghc) with its own superdirtTarget, aimed at mrtd: /dirt/play as SuperDirt hears it."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from clients_rig import REPO, running_daemon
from conftest import wait_for
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET

SESSION = REPO / "tests" / "clients" / "tidal_superdirt.hs"
SOUNDING = (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL)  # onset mode 0 (the default) sends "on"


def test_tidal_superdirt_target_plays_notes_and_parameters(tmp_path):
    if shutil.which("runghc") is None:
        pytest.fail("runghc is not installed: apt-get install libghc-tidal-dev (see .ci/run)")
    with running_daemon(tmp_path) as rig:
        received: list[tuple[str, list, float | None, float]] = []
        dispatch = rig.daemon.osc.dispatcher.dispatch

        def recording_dispatch(address, args, due, sender, reply):
            received.append((address, list(args), due, time.time()))
            dispatch(address, args, due, sender, reply)

        rig.daemon.osc.dispatcher.dispatch = recording_dispatch
        process = subprocess.Popen(["runghc", str(SESSION)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env={**os.environ, "MRTD_PORT": str(rig.port)})
        killer = threading.Timer(120, process.kill)
        killer.start()
        try:
            # n "0 7" # s "superpiano": SuperDirt's pitches, 0 = C5 = MIDI 60; legato 0.5 ends each note
            wait_for(lambda: any(c.notes[60] in SOUNDING for c in rig.engine.seen), 90, "C5 from Tidal (compiling first)")
            wait_for(lambda: any(c.notes[67] in SOUNDING for c in rig.engine.seen), 10, "G5 from Tidal")
            wait_for(lambda: any(c.temperature == pytest.approx(2.2) for c in rig.engine.seen), 10, "s temperature # n 2.2")
            rig.wait_snapshot("/mrt/tempo", lambda v: v == [pytest.approx(135.0)], "tempo from cps 0.5625")
            events = [(args, due, arrival) for address, args, due, arrival in received if address == "/dirt/play"]
            assert events and all(due is not None and -0.05 < due - arrival < 1.0 for _, due, arrival in events)
            assert {"s", "cps", "cycle", "delta"} <= set(events[-1][0][::2])
            status = rig.daemon.status()
            assert status["dialect_unknown"] == "room" and status["dialect_unknown_keys"] >= 1, status
        finally:
            process.stdin.close()
            killer.cancel()
            process.kill()
