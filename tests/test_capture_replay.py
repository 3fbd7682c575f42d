"""Rehearse live, render offline: a session played live with every kind of input, captured, then
rendered again from its capture. On the synth, sample for sample what was made live; on mrt2 (the
official 1-layer export), the same tokens frame for frame.

The live session plays on the JACK dummy device (a private server) and takes OSC (plain and
timetagged) over loopback, MIDI notes through its virtual port, a scene cue, a gesture from the
web page's socket and a reset asked for now; its scene's timeline fires a cue by itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.core.capture import read_capture
from mrtd.frame import FRAME_SAMPLES
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.web.config import WebConfig
from osc_probe import OscProbe, bundle, message
from output_rig import private_jack
from mrtd.engines.mrt2 import Mrt2Engine
from test_mrt2_official import official_home  # noqa: F401  (the session fixture: the official 1-layer export)

SCENE = (
    "tempo: 96\n"
    "prompts:\n"
    "  rain: {text: soft rain on a tin roof, position: [0, 0]}\n"
    "  bells: {text: distant church bells, position: [1, 0]}\n"
    "  pulse: {text: minimal techno pulse, position: [0.5, 1]}\n"
    "defaults: {temperature: 1.2}\n"
    "cues:\n"
    "  - {name: intro, at: 0, mix: {rain: 1}}\n"
    "  - {name: bells, at: 0.2, mix: {bells: 1, rain: 0.3}, fade: {beats: 2, curve: s-curve}}\n"
    "  - {name: pulse, mix: {pulse: 1}, fade: {seconds: 0.8}, set: {drums: 1}}\n"
)
# What the session's inputs make, by the command a capture holds it as.
PLAYED = {"InstallScene", "FireCue", "SetParam", "NoteOn", "NoteOff", "GoCue", "SetXY", "Reset"}


def samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def web_send(port: int, address: str, *args: object) -> None:
    """One message from the web page's socket, as the page sends a gesture."""
    import aiohttp

    async def send() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_str(json.dumps({"address": address, "args": list(args)}))
                await ws.send_str(json.dumps({"address": "/mrt/ping", "args": ["done"]}))
                while True:  # the pong follows the gesture: it has been handled
                    reply = json.loads((await ws.receive(timeout=30.0)).data)
                    if reply.get("reply", {}).get("address") == "/mrt/pong":
                        return

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send()).result(60)


@contextmanager
def midi_keys() -> Iterator[tuple[object, set[str]]]:
    """A JACK MIDI keyboard (on the server the block runs), and the ports there before the daemon's."""
    import rtmidi

    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="test-keys")
    try:
        yield sender, set(sender.get_ports())
    finally:
        sender.close_port()
        sender.delete()


def perform(daemon: Daemon, keys, ports_before: set[str], frames_between: int) -> None:
    """Play the session: each input in turn, `frames_between` frames apart, each seen applied."""
    control, frames = daemon.control, lambda: daemon.generator.frames
    probe = OscProbe(daemon.osc.port)

    def then(what: str, done) -> None:
        wait_for(done, 60 + 10 * frames_between, what)
        at = frames()
        wait_for(lambda: frames() >= at + frames_between, 60 + 10 * frames_between, "the music to move on")

    try:
        wait_for(lambda: control.cue == "bells", 60, "the timeline's own cue")
        probe.send("/mrt/temperature", 0.8)
        then("the plain OSC message", lambda: control.values["temperature"] == pytest.approx(0.8))
        probe.send_raw(bundle(time.time() + 0.3, message("/mrt/cfg/notes", 4.0)))
        then("the timetagged bundle", lambda: control.values["cfg_notes"] == pytest.approx(4.0))
        port = next(p for p in keys.get_ports() if p not in ports_before and p.startswith("mrtd") and p.endswith(":in"))
        keys.open_port(keys.get_ports().index(port))
        keys.send_message([0x90, 64, 100])
        then("the MIDI note", lambda: control.notes.any_held)
        keys.send_message([0x80, 64, 0])
        then("the note's release", lambda: not control.notes.any_held)
        probe.send("/mrt/cue", "pulse")
        then("the cue", lambda: control.cue == "pulse")
        web_send(daemon.web.port, "/mrt/xy", 0.8, 0.3)
        then("the web page's gesture", lambda: control.xy == pytest.approx((0.8, 0.3)))
        probe.send("/mrt/reset")
        at = frames()
        wait_for(lambda: frames() >= at + 3 * frames_between, 60 + 30 * frames_between, "the music after the reset")
    finally:
        probe.close()


def daemon_config(tmp_path: Path, **config) -> DaemonConfig:
    scene = tmp_path / "set.yaml"
    scene.write_text(SCENE)
    return DaemonConfig(scene=str(scene), capture=str(tmp_path / "session.capture"), osc=OscConfig(port=0),
                        web=WebConfig(port=0), midi=True, scene_dir=str(tmp_path), record_dir=str(tmp_path),
                        cache_dir=str(tmp_path / "cache"), **config)


def replay(capture: Path, out: Path, *flags: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "mrtd", "render", "--replay", str(capture), "-o", str(out), *flags],
                          capture_output=True, text=True, timeout=1800, env=env)
    assert done.returncode == 0, done.stderr
    return done


def test_a_live_session_on_a_jack_device_replays_sample_for_sample(tmp_path):
    live = tmp_path / "live.wav"
    with private_jack(48_000), midi_keys() as (keys, before):
        daemon = Daemon(daemon_config(tmp_path, engine="synth", seed=7, output="default", outputs=[f"wav:{live}"]))
        daemon.start()
        try:
            status = daemon.status()
            assert status["output"].startswith("device:") and status["capture_state"] == "writing", status
            perform(daemon, keys, before, frames_between=5)
            status = daemon.status()
        finally:
            daemon.stop()
    assert status["capture"] == str(tmp_path / "session.capture") and status["capture_records"] > 0
    capture = read_capture(tmp_path / "session.capture")
    offline = tmp_path / "replay.wav"
    replay(tmp_path / "session.capture", offline)
    heard, made = samples(live), samples(offline)
    assert len(made) == capture.end_frame * FRAME_SAMPLES == len(heard), (len(made), len(heard))
    assert np.abs(made).max() > 1000, "the session makes sound"
    different = np.flatnonzero(np.any(heard != made, axis=1))
    assert different.size == 0, f"first difference at frame {different[0] // FRAME_SAMPLES} of {len(made) // FRAME_SAMPLES}"
    # Every input reached the capture, the timeline's own cue as the timeline's.
    kinds = {type(command).__name__ for _, _, command in capture.records}
    assert PLAYED <= kinds, PLAYED - kinds
    assert capture.ended == "stopped" and capture.header.ducks
    assert [type(c).__name__ for _, origin, c in capture.records if origin == "timeline"] == ["FireCue"]
    # The reset asked for now ducked the device's buffered audio; the WAV taps the generator, so the
    # frames before the reset are whole in it and the reset's frame fades in from silence, as replayed.
    reset = next(frame for frame, _, command in capture.records if type(command).__name__ == "Reset")
    before_reset = heard[(reset - 1) * FRAME_SAMPLES: reset * FRAME_SAMPLES]
    fading_in = heard[reset * FRAME_SAMPLES: reset * FRAME_SAMPLES + 48]
    assert np.abs(before_reset).max() > 500 and np.abs(fading_in).max() < np.abs(before_reset).max() / 10


class TokenTap(Mrt2Engine):
    """The mrt2 engine, keeping the tokens each frame it makes generated (warm-up steps excluded)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tokens: list[np.ndarray] = []

    def step(self, conditioning):
        frame = super().step(conditioning)
        self.tokens.append(self.last_tokens())
        return frame


def test_a_live_mrt2_session_replays_to_the_same_tokens(tmp_path, official_home, monkeypatch):
    from mrtd.app.render import render_replay

    monkeypatch.setenv("MAGENTA_HOME", str(official_home))
    # About 60x slower than real time on a CPU: it plays live anyway (allow_slow), each frame made in
    # order whatever the pace, and the inputs come a frame or so apart.
    engine = TokenTap("mrt2_small", seed=3, warmup_steps=1)
    with private_jack(48_000), midi_keys() as (keys, before):
        daemon = Daemon(daemon_config(tmp_path, engine="mrt2", model="mrt2_small", seed=3, allow_slow=True,
                                      output="null", fallback_engine=None), engine=engine)
        daemon.start()
        try:
            perform(daemon, keys, before, frames_between=1)
        finally:
            daemon.stop()
    capture = read_capture(tmp_path / "session.capture")
    assert capture.header.engine == "mrt2" and capture.header.model == "mrt2_small" and capture.header.seed == 3
    kinds = {type(command).__name__ for _, _, command in capture.records}
    assert PLAYED <= kinds, PLAYED - kinds

    replayed_tokens: list[np.ndarray] = []
    result = render_replay(tmp_path / "session.capture", tmp_path / "replay.wav",
                           cache_dir=str(tmp_path / "cache"),
                           watch=lambda generator: replayed_tokens.append(generator.engine.last_tokens()))
    assert result.engine.startswith("mrt2 mrt2_small") and result.frames == capture.end_frame
    live_tokens = engine.tokens
    assert len(live_tokens) == len(replayed_tokens) == capture.end_frame  # every frame made, stepped
    for frame, (heard, made) in enumerate(zip(live_tokens, replayed_tokens)):
        assert np.array_equal(heard, made), f"tokens differ from frame {frame} on"
    assert len({t.tobytes() for t in replayed_tokens}) > 1, "the tokens move: comparing them says something"
