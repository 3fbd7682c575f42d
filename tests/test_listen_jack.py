"""Listening on JACK: mrtd's input ports `mrtd:listen_L/R`, fed by a second JACK client, on a
private dummy server; the model's notes follow the chords that client plays, and the output
plays on without a gap."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from listen_signals import RATE, progression
from output_rig import jack_connections, private_jack
from test_listen import write_wav

import aubio  # noqa: E402,F401  (the listen extra, in .[test]: a missing one fails here, never skips)


def test_chords_played_into_the_listen_ports_reach_the_model(tmp_path):
    from engines_for_tests import ToneEngine

    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.frame import FRAME_SECONDS

    signal = progression("plucked", beat_s=0.5, laps=1)
    write_wav(tmp_path / "band.wav", signal.audio)
    with private_jack(RATE, period=256):
        feeder = subprocess.Popen([sys.executable, str(Path(__file__).parent / "listen_feeder.py"), str(tmp_path / "band.wav")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert feeder.stdout is not None and feeder.stdout.readline().strip() == "ready"
            engine = ToneEngine(amp=0.1)
            daemon = Daemon(DaemonConfig(engine="synth", osc=None, midi=False, listen="jack:feeder:out_0,feeder:out_1",
                                         follow=["notes"], scene_dir=str(tmp_path), cache_dir=str(tmp_path)), engine=engine)
            daemon.start()
            try:
                assert daemon.listening is not None
                connections = jack_connections()
                follower = daemon.listening.follower
                deadline = time.monotonic() + 30.0
                seen_chords = set()
                while len(seen_chords) < 3 and time.monotonic() < deadline:  # C, F and G heard
                    daemon.stopped.wait(0.05)
                    seen_chords.add(follower.analysis.notes.chord)
                    seen_chords.discard("")
                daemon.stopped.wait(2.0)
                status = daemon.status()
                seen = [set(np.flatnonzero(c.notes > 0)) for c in engine.seen]
            finally:
                daemon.stop()
        finally:
            feeder.stdin.close()
            feeder.wait(10)
    assert connections["mrtd:listen_L"] == ["feeder:out_0"] and connections["mrtd:listen_R"] == ["feeder:out_1"]
    assert "system:capture_1" not in connections["mrtd:listen_L"]
    assert {"C", "F", "G"} <= seen_chords, seen_chords
    for _, pitches in signal.events[:3]:
        assert set(pitches) in seen, f"{pitches} never reached the model"
    assert status["listen"].startswith("jack:") and status["listen_overruns"] == 0
    print(f"JACK: underruns {status['underruns']}, analysis latency p50 {status['listen_latency_ms']} ms,"
          f" p99 {status['listen_latency_p99_ms']} ms, cost {status['listen_cost_ms']} ms per frame")
