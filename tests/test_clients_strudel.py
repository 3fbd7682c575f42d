"""clients/strudel/play.mjs: a real Node process plays a Strudel pattern against a running daemon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from clients_rig import CLIENTS
from conftest import ClockedCapture, wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET
from mrtd.inputs.osc.server import OscConfig
from osc_probe import OscProbe

STRUDEL = CLIENTS / "strudel"
SOUNDING = (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL)  # onset mode 0 (the default) sends "on"
CYCLES = 2  # 4 s at cps 0.5: eight notes, two temperature changes


def test_a_strudel_pattern_lands_on_the_frames_its_timetags_say(tmp_path):
    if shutil.which("node") is None or not (STRUDEL / "node_modules").is_dir():
        pytest.fail("run `npm ci --omit=optional` in clients/strudel (see .ci/run)")
    engine, sink = RecordingEngine(), ClockedCapture()
    daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), cache_dir=str(tmp_path)), engine=engine, output=sink)
    daemon.start()
    try:
        wait_for(lambda: daemon.generator.frames > 10, 5, "the music to start")
        received: list[tuple[str, list, float | None, float]] = []
        dispatch = daemon.osc.dispatcher.dispatch

        def recording_dispatch(address, args, due, sender, reply):
            received.append((address, list(args), due, time.time()))
            dispatch(address, args, due, sender, reply)

        daemon.osc.dispatcher.dispatch = recording_dispatch
        run = subprocess.run(
            ["node", "--import", "./esm-entry.mjs", "play.mjs"], cwd=STRUDEL, capture_output=True, text=True, timeout=60,
            env={**os.environ, "MRTD_PORT": str(daemon.osc.port), "MRTD_CYCLES": str(CYCLES)},
        )
        assert run.returncode == 0 and "DONE" in run.stdout, run.stdout + run.stderr
        sent = [json.loads(line[5:]) for line in run.stdout.splitlines() if line.startswith("SENT ")]
        notes = [e for e in sent if "midinote" in e["controls"]]
        temperatures = [e for e in sent if e["controls"].get("s") == "temperature"]
        assert len(notes) == 4 * CYCLES and len(temperatures) == CYCLES
        last = max(e["at"] + e["controls"]["delta"] for e in sent)
        wait_for(lambda: sink.heard and sink.heard[-1][1] > last - time.time() + time.monotonic() + 0.2, 10, "the pattern to be heard")

        dirt = [(args, due, arrival) for address, args, due, arrival in received if address == "/dirt/play"]
        assert len(dirt) == len(sent)
        for args, due, arrival in dirt:
            assert due is not None and -0.05 < due - arrival < 1.0, "bundles stamped with their time, sent ahead"

        def frame_at(wall: float) -> int:
            return sink.frame_heard_at(wall - time.time() + time.monotonic())

        for event in notes:  # each note starts on its frame and ends delta (clip already applied) later
            pitch, at = event["controls"]["midinote"], event["at"]
            on = next(k for k in range(frame_at(at) - 3, len(engine.seen)) if engine.seen[k].notes[pitch] in SOUNDING)
            assert on == frame_at(at), (pitch, on, frame_at(at))
            off = next(k for k in range(on, len(engine.seen)) if engine.seen[k].notes[pitch] not in SOUNDING)
            assert off == frame_at(at + event["controls"]["delta"]), (pitch, off)
        for event in temperatures:
            k = frame_at(event["at"])
            assert engine.seen[k].temperature == pytest.approx(event["controls"]["n"])
            assert engine.seen[k - 1].temperature != pytest.approx(event["controls"]["n"])

        probe = OscProbe(daemon.osc.port)
        try:
            probe.send("/mrt/sync")
            probe.transcript.wait_for_first("/mrt/synced")
            state = dict(probe.transcript.messages())
        finally:
            probe.close()
        assert state["/mrt/temperature"] == [pytest.approx(2.1)]  # the last change, cycle 1
        assert state["/mrt/tempo"] == [pytest.approx(120.0)]  # cps 0.5
        assert daemon.status()["dialect_unknown_keys"] == 0, daemon.status()["dialect_unknown"]  # every key Strudel sends is understood
    finally:
        daemon.stop()
