"""No number anyone sends can stop the music: every numeric argument of every address, and every
dialect key, with the extremes a codec lets through, against a running daemon on the synth.

`/mrt/event cycle 1e30` once stalled the musical clock for good (the synth fell silent, the
bar number no longer fit an OSC integer so `/mrt/status` answered nothing): finite was checked,
bounded was not. The sweep below sends each extreme to each argument, one at a time, from
loopback, and then asks what a listener and an operator would: does it still play, does status
answer, is every daemon thread alive, do the pushes still flow.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import pytest

from conftest import CaptureOutput, wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.inputs.osc import dirt
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.osc.table import EVENT_NOTES, EVENT_TIMING, TABLE
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.params import PARAMS
from mrtd.vocabulary.values import MAX_CYCLE, cycle_position, prompt_name
from osc_probe import OscProbe
from test_requests import SAMPLES

# What an OSC codec carries: doubles ('d') and 64-bit ints ('h') as well as the usual i and f.
# The harmless-looking ones first and the huge ones last, so a value that got through is what
# the daemon is left with when the sweep ends (a later `cycle 0` would pull a stalled clock back).
EXTREMES: tuple[float | int, ...] = (
    -0.0, 5e-324, -5e-324, float("nan"), float("inf"), float("-inf"), 2**31 - 1, -(2**63), 2**63 - 1, 1e300, -1e30, 1e30,
)
# /mrt/stop's whole purpose is silence (`/mrt/stop 0` rests at once): an operator's word, not an attack.
MEANT_TO_SILENCE = (q.Stop,)


def _string(value: str) -> bytes:
    data = value.encode() + b"\x00"
    return data + b"\x00" * (-len(data) % 4)


def packet(address: str, args: list) -> bytes:
    """An OSC message with floats as doubles and big ints as int64, so every extreme arrives as sent."""
    tags, body = ",", b""
    for value in args:
        if isinstance(value, bool) or (isinstance(value, int) and -(2**31) <= value < 2**31):
            tags, body = tags + "i", body + struct.pack(">i", int(value))
        elif isinstance(value, int):
            tags, body = tags + "h", body + struct.pack(">q", value)
        elif isinstance(value, float):
            tags, body = tags + "d", body + struct.pack(">d", value)
        elif isinstance(value, bytes):
            tags, body = tags + "b", body + struct.pack(">i", len(value)) + value + b"\x00" * (-len(value) % 4)
        else:
            tags, body = tags + "s", body + _string(str(value))
    return _string(address) + _string(tags) + body


def sweep() -> list[tuple[str, list]]:
    """Each row's sample with one numeric argument replaced by one extreme; each dialect key alone
    and beside a note, with each extreme."""
    messages: list[tuple[str, list]] = []
    for row in TABLE:
        if row.request in MEANT_TO_SILENCE:
            continue
        args = SAMPLES[row.request].args()
        if row.request is q.StyleEmbedding:
            args = [float(v) for v in struct.unpack("<768f", args[0])]  # the numbers form, not the blob
        numeric = [k for k, v in enumerate(args) if isinstance(v, (int, float))]
        for address in (row.path, *row.aliases):
            for k in numeric[:4] if row.request is not q.StyleEmbedding else (0, 767):
                messages += [(address, args[:k] + [x] + args[k + 1:]) for x in EXTREMES]
    event_keys = sorted({*PARAMS, *EVENT_TIMING, *EVENT_NOTES, "velocity", "weight"})
    dirt_keys = sorted({*PARAMS, *dirt.KEY_BOUNDS, "n", "cue"})
    for x in EXTREMES:
        messages += [("/mrt/event", [key, x]) for key in event_keys]
        messages += [("/mrt/event", ["note", 2.0, key, x]) for key in event_keys if key not in EVENT_NOTES]
        for address in ("/dirt/play", "/play2"):
            messages += [(address, ["s", "mrt", key, x]) for key in dirt_keys]
            messages += [(address, ["s", "mrt", "n", 3.0, key, x]) for key in dirt_keys if key != "n"]
            messages += [(address, ["s", "cue", "n", x]), (address, ["s", "temperature", "n", x])]
    return messages


def rms(block: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))


def test_the_decoders_bound_what_reaches_time_and_integers():
    with pytest.raises(ValueError, match="cycle lies in"):
        cycle_position(1e30)
    assert cycle_position(MAX_CYCLE) == MAX_CYCLE
    with pytest.raises(ValueError, match="slot"):
        prompt_name(1e300)  # its digits would be a 301-character name
    with pytest.raises(ValueError, match="cue number"):
        q.Cue.from_args([2**63 - 1])
    with pytest.raises(ValueError, match="cookie"):
        q.Hello.from_args([1e30])


def test_no_value_stops_the_music_status_the_pushes_or_a_thread(tmp_path):
    sink = CaptureOutput(wanted_samples=1 << 62)
    daemon = Daemon(DaemonConfig(engine="synth", prompt="warm analog pads", osc=OscConfig(port=0), midi=False,
                                 cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path / "scenes"),
                                 record_dir=str(tmp_path / "recordings")), output=sink)
    daemon.start()
    probe, listener = OscProbe(daemon.osc.port), OscProbe(daemon.osc.port)
    try:
        listener.request("/mrt/subscribe", "/mrt/subscribed")
        wait_for(lambda: sink.captured > 48000 * 2, 20, "two seconds of music")
        before = rms(sink.audio()[-48000:])
        threads = {t.name for t in threading.enumerate() if t.name.startswith("mrtd-")}
        counters = daemon.osc.counters
        messages = sweep()
        for start in range(0, len(messages), 40):  # in batches the server's queue holds: none shed
            batch = messages[start:start + 40]
            handled = counters.messages + len(batch)
            for address, args in batch:
                probe.send_raw(packet(address, args))
            wait_for(lambda: counters.messages >= handled, 10, f"batch at {start} of {len(messages)}")
        assert counters.dropped == 0
        probe.send("/mrt/notes/clear")  # the sweep's in-range notes may still hold: not what is measured
        heard = sink.captured
        wait_for(lambda: sink.captured >= heard + 48000 * 2, 10, "two more seconds")
        after = rms(sink.audio()[heard + 48000:heard + 96000])  # the second second, after any fade back
        pushes = listener.transcript.mark()
        status = dict(zip(*[iter(probe.request("/mrt/status", "/mrt/status"))] * 2))
        listener.transcript.wait_for_first("/mrt/beat", since=pushes)  # the pusher still pushes
        alive = {t.name for t in threading.enumerate() if t.name.startswith("mrtd-")}
    finally:
        listener.close()
        probe.close()
        daemon.stop()
    print(f"{len(messages)} messages; RMS before {before:.4f}, after {after:.4f}; bar {status['bar']}")
    assert after > 0.5 * before, f"the music fell from RMS {before:.4f} to {after:.4f}"
    assert status["underruns"] == 0 and abs(status["bar"]) < 2**31
    assert threads <= alive, f"threads gone: {threads - alive}"
