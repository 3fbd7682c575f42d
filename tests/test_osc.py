"""OSC on real loopback sockets: every address reaches the engine's conditioning."""

from __future__ import annotations

import math
import socket
import struct

import numpy as np
import pytest

from conftest import control_state, probed_daemon, wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET
from mrtd.vocabulary.codec import slip_encode
from mrtd.inputs.osc.server import OscConfig, OscServer
from osc_probe import OscProbe, bundle, message


@pytest.fixture
def rig(tmp_path):
    with probed_daemon(tmp_path) as rig:
        yield rig


def settle(daemon: Daemon, frames: int = 2) -> None:
    """Wait until `frames` more frames have been made (the generator's own clock)."""
    target = daemon.generator.frames + frames
    wait_for(lambda: daemon.generator.frames >= target, 5, f"{frames} frames")


def until(engine: RecordingEngine, check, what: str) -> None:
    wait_for(lambda: engine.seen and check(engine.seen[-1]), 5, what)


PARAMETERS = [
    # address, value, what the engine must see
    ("/mrt/temperature", 2.5, lambda c: c.temperature == 2.5),
    ("/mrt/topk", 7, lambda c: c.top_k == 7),
    ("/mrt/seed", 42, lambda c: c.seed == 42),
    ("/mrt/cfg/style", 3.0, lambda c: c.cfg_style == 3.0),
    ("/mrt/cfg/notes", -0.5, lambda c: c.cfg_notes == -0.5),
    ("/mrt/cfg/drums", 6.5, lambda c: c.cfg_drums == 6.5),
    ("/mrt/drums", 1, lambda c: c.drums == 1),
    ("/mrt/drums", 0, lambda c: c.drums == 0),
]


@pytest.mark.parametrize("address,value,seen", PARAMETERS, ids=[f"{a} {v}" for a, v, _ in PARAMETERS])
def test_parameters_reach_the_engine(rig, address, value, seen):
    daemon, engine, probe = rig
    probe.send(address, value)
    until(engine, seen, f"{address} {value} in the conditioning")


ALIASES = [
    ("/temperature", 0.5, lambda c: c.temperature == 0.5),
    ("/topk", 900, lambda c: c.top_k == 900),
    ("/cfgmusiccoca", 5.0, lambda c: c.cfg_style == 5.0),
    ("/cfgnotes", 1.0, lambda c: c.cfg_notes == 1.0),
    ("/cfgdrums", 0.0, lambda c: c.cfg_drums == 0.0),
    ("/seedrotation", 999, lambda c: c.seed == 999),
    ("/drumless", 1, lambda c: c.drums == 0),
]


@pytest.mark.parametrize("address,value,seen", ALIASES, ids=[a for a, _, _ in ALIASES])
def test_official_aliases_behave_like_canonical_names(rig, address, value, seen):
    daemon, engine, probe = rig
    probe.send(address, value)
    until(engine, seen, f"{address} {value} in the conditioning")


def test_notes_latch_follow_onset_mode_and_unmask_width(rig):
    daemon, engine, probe = rig
    # A note on and off inside one bundle: shorter than a frame, still sounds for one frame.
    from osc_probe import bundle

    probe.send("/mrt/note/on", 60, 90)
    until(engine, lambda c: c.notes[60] == NOTE_ON_MODEL, "default onset mode 0 (as the official engine) sends 'on'")
    probe.send("/mrt/notes/clear")
    probe.send("/mrt/onset_mode", 1)
    settle(daemon)
    start = len(engine.seen)
    probe.send_raw(bundle(None, message("/mrt/note/on", 64, 100), message("/mrt/note/off", 64)))
    wait_for(lambda: any(c.notes[64] == NOTE_ONSET for c in engine.seen[start:]), 5, "latched onset")
    settle(daemon)
    assert engine.seen[-1].notes[64] != NOTE_ONSET

    probe.send("/noteon", 60, 90)  # official alias
    until(engine, lambda c: c.notes[60] == NOTE_HELD, "held note in onset mode 1")
    jam = engine.seen[-1].notes
    assert jam[59] == -1 and jam[61] == -1, "unmask 0: only the held pitch is explicit"
    probe.send("/mrt/unmask", 2)
    until(engine, lambda c: c.notes[58] == 0 and c.notes[62] == 0 and c.notes[57] == -1, "jam window ±2")
    probe.send("/unmaskwidth", 127)
    until(engine, lambda c: (c.notes[:60] == 0).all() and (c.notes[61:] == 0).all(), "solo: every pitch explicit")
    probe.send("/onsetmode", 0)
    until(engine, lambda c: c.notes[60] == NOTE_ON_MODEL, "onset mode 0 sends 'on'")
    probe.send("/mrt/notes/clear")
    until(engine, lambda c: c.notes[60] == 0, "notes cleared")


def test_output_controls_change_what_is_heard(rig):
    daemon, engine, probe = rig
    peaks: list[float] = []
    daemon.generator.taps.append(lambda frame: peaks.append(float(np.abs(frame).max())))
    settle(daemon, 3)
    full = peaks[-1]
    probe.send("/mrt/volume", -20.0)
    wait_for(lambda: abs(peaks[-1] - full * 0.1) < 0.01 * full, 5, "volume -20 dB")
    probe.send("/mute")
    wait_for(lambda: peaks[-1] == 0.0, 5, "mute")
    probe.send("/mrt/mute", 0)
    probe.send("/mrt/midigate", 1)  # no note held: the gate closes over a second, as the official one
    wait_for(lambda: peaks[-1] == 0.0, 10, "midigate: silent while no note is held")
    probe.send("/mrt/note/on", 60)
    wait_for(lambda: peaks[-1] > 0.05, 5, "a held note opens the gate")
    before = len(engine.seen)
    probe.send("/bypass", 1)
    wait_for(lambda: peaks[-1] == 0.0, 5, "bypass fades out")
    settle(daemon, 3)
    stepped = len(engine.seen)
    settle(daemon, 3)
    assert len(engine.seen) == stepped > before, "a bypassed engine rests"


def test_reset_reaches_the_engine(rig):
    daemon, engine, probe = rig
    start = len(engine.seen)
    probe.send("/reset")
    wait_for(lambda: any(c.reset for c in engine.seen[start:]), 5, "reset flag")


def test_prompts_mix_and_raw_style(rig):
    daemon, engine, probe = rig
    probe.send("/mrt/prompt", "dark", "dark ambient drone", 1.0)
    until(engine, lambda c: np.abs(c.style_embedding).sum() > 0, "the prompt's embedding")
    dark = engine.seen[-1].style_embedding.copy()
    dark_tokens = engine.seen[-1].style_tokens.copy()
    assert (dark_tokens[:6] >= 0).all() and (dark_tokens[6:] == -1).all()
    probe.send("/prompt", 2, "bright fast techno", 0.0)  # the official form: its slot 2 is mrtd's prompt "3"
    probe.send("/mrt/mix", "dark", 0.0, "3", 1.0)
    until(engine, lambda c: not np.allclose(c.style_embedding, dark), "the mix moved to slot 2")
    bright = engine.seen[-1].style_embedding.copy()
    assert float(dark @ bright) < 0.9

    probe.send("/mrt/mix", "dark", 1.0, "3", 0.0, 2.0, "equal-power")  # a 2 s crossfade back
    wait_for(lambda: np.allclose(engine.seen[-1].style_embedding, dark, atol=1e-5), 10, "the crossfade to land")
    path = [float(c.style_embedding @ dark) for c in engine.seen[-60:]]
    assert any(0.2 < p < 0.95 for p in path), "the crossfade passed through intermediate blends"

    tokens = list(range(100, 112))
    probe.send("/mrt/style/tokens", *tokens)
    # As in the official engine, only levels 0-5 are sent, raw tokens included.
    until(engine, lambda c: list(c.style_tokens) == tokens[:6] + [-1] * 6, "raw tokens, levels 6-11 masked")
    raw = np.linspace(-1, 1, 768).astype("<f4")
    raw /= np.linalg.norm(raw)
    probe.send("/mrt/style/embedding", raw.tobytes())
    until(engine, lambda c: np.allclose(c.style_embedding, raw), "raw embedding (blob)")
    probe.send("/mrt/style/embedding")
    until(engine, lambda c: np.allclose(c.style_embedding, dark, atol=1e-5), "back to the blend")
    probe.send("/mrt/prompt/clear", "dark")
    probe.send("/prompt_clear", 2)
    probe.send("/mrt/style/tokens")
    # No prompt left: the style playing stays, as the official engine's reblend leaves it.
    until(engine, lambda c: np.allclose(c.style_embedding, dark, atol=1e-5) and list(c.style_tokens) == list(dark_tokens),
          "no prompts: the previous style stays")


def test_status_ping_sync_and_subscriptions(rig):
    daemon, engine, probe = rig
    assert probe.request("/mrt/ping", "/mrt/pong", 7) == [7]
    status = probe.request("/mrt/status", "/mrt/status")
    fields = dict(zip(status[::2], status[1::2]))
    for key in ("engine", "output", "frames", "underruns", "step_ms", "lead_frames", "mix", "scene", "cue"):
        assert key in fields, key
    assert fields["engine"] == "tone" and fields["output"] == "null" and fields["frames"] > 0

    listener = OscProbe(daemon.osc.port)
    try:
        listener.request("/mrt/subscribe", "/mrt/subscribed")
        heard = listener.transcript
        start = heard.mark()
        from osc_probe import bundle

        # Three moves in one packet apply in one frame: they coalesce into one push of the last.
        probe.send_raw(bundle(None, *(message("/mrt/temperature", v) for v in (0.3, 0.4, 0.5))))
        assert heard.wait_for_first("/mrt/temperature", since=start).args == [pytest.approx(0.5)]
        probe.send("/mrt/topk", 9)  # a later change: once its push is here, any temperature push is too
        heard.wait_for_first("/mrt/topk", since=start)
        assert heard.since(start).args_of("/mrt/temperature") == [[pytest.approx(0.5)]], heard.since(start)
        sync_start = heard.mark()
        listener.send("/mrt/sync")
        count = heard.wait_for_first("/mrt/synced", since=sync_start).args[0]
        synced = heard.since(sync_start)
        assert {"/mrt/temperature", "/mrt/topk", "/mrt/mix", "/mrt/notes", "/mrt/tempo"} <= set(synced.addresses()), synced
        assert len(heard.since(sync_start).received()) == count + 1, heard.since(sync_start)
    finally:
        listener.close()
    # The listener's port is closed now: pushes are refused (reported by the kernel on the
    # send after the first), and the subscriber is dropped.
    values = iter(np.linspace(0.1, 2.9, 1000))

    def dropped() -> bool:
        probe.send("/mrt/temperature", float(next(values)))
        return daemon.pusher.subscribers() == []

    wait_for(dropped, 5, "the vanished subscriber to be dropped")


BAD = [
    ("/mrt/nope", [1], "unknown address"),
    ("/mrt/temperature", [], "wants 1 argument"),
    ("/mrt/temperature", ["hot"], "wants a number"),
    ("/mrt/temperature", [9.0], "must lie in [0, 3]"),
    ("/mrt/temperature", [float("nan")], "must be finite"),
    ("/mrt/topk", [float("inf")], "must be finite"),
    ("/mrt/topk", [2.5], "whole number"),
    ("/mrt/note/on", [200], "0-127"),
    ("/mrt/mix", ["a"], "name weight pairs"),
    ("/mrt/mix", ["a", 1.0, 2.0, "wobbly"], "unknown curve"),
    ("/mrt/style/tokens", [1, 2, 3], "12 integers"),
    ("/mrt/style/embedding", [b"\x00" * 12], "768 little-endian float32"),
    ("/mrt/record/start", ["../../etc/passwd"], "outside"),
    ("/mrt/scene/load", ["/etc/passwd"], "not a plain name"),
]


@pytest.mark.parametrize("address,args,reason", BAD, ids=[f"{a} {r}" for a, _, r in BAD])
def test_bad_messages_get_an_error_and_change_nothing(rig, address, args, reason):
    daemon, engine, probe = rig
    settle(daemon)
    before = control_state(daemon)
    error = probe.request(address, "/mrt/error", *args)
    assert error[0] == address and reason in error[1], error
    settle(daemon, 2)
    assert control_state(daemon) == before
    assert daemon.status()["underruns"] == 0


def test_malformed_and_oversized_packets_are_answered(rig):
    daemon, engine, probe = rig
    assert probe.exchange_raw(b"\x00garbage") == [("/mrt/error", ["", "not an OSC message or bundle"])]
    [(address, (about, reason))] = probe.exchange_raw(message("/mrt/ping", b"x" * 20000))
    assert address == "/mrt/error" and "larger than" in reason


def test_tcp_size_prefixed_and_slip_framing(rig):
    daemon, engine, probe = rig
    for framing in ("size", "slip"):
        with socket.create_connection(("127.0.0.1", daemon.osc.port), timeout=5) as conn:
            packet = message("/mrt/ping", framing)
            conn.sendall(slip_encode(packet) if framing == "slip" else struct.pack(">i", len(packet)) + packet)
            data = conn.recv(1024)
        assert b"/mrt/pong" in data and framing.encode() in data
    probe_value = 1.7
    with socket.create_connection(("127.0.0.1", daemon.osc.port), timeout=5) as conn:
        packet = message("/mrt/temperature", probe_value)
        conn.sendall(struct.pack(">i", len(packet)) + packet)
        until(engine, lambda c: math.isclose(c.temperature, probe_value, rel_tol=1e-6), "temperature over TCP")


def test_senders_outside_the_allow_list_are_ignored(tmp_path):
    engine = RecordingEngine()
    daemon = Daemon(
        DaemonConfig(output="null", osc=OscConfig(port=0, allow=["10.0.0.0/8"], allow_loopback=False), cache_dir=str(tmp_path)),
        engine=engine,
    )
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        probe.send("/mrt/temperature", 2.0)
        probe.send("/mrt/ping")
        wait_for(lambda: daemon.osc.counters.refused >= 2, 5, "refusals to be counted")
        settle(daemon, 2)
        assert engine.seen[-1].temperature != 2.0 and probe.transcript.received() == [], probe.transcript
    finally:
        probe.close()
        daemon.stop()


def test_binding_to_a_lan_address_needs_an_allow_list():
    with pytest.raises(ValueError, match="allow-list"):
        OscServer(host=None, config=OscConfig(bind="0.0.0.0"))


def test_a_port_in_use_is_a_clear_error(rig):
    daemon, engine, probe = rig
    with pytest.raises(OSError, match=f"cannot listen for OSC on 127.0.0.1:{daemon.osc.port}"):
        OscServer(host=None, config=OscConfig(port=daemon.osc.port)).start()


def test_port_zero_picks_again_when_tcp_cannot_have_the_udp_port(monkeypatch):
    """With port 0 the system picks a free UDP port; some other TCP socket may hold that number
    (CI saw it). The server tries fresh ports instead of refusing to start."""
    import errno

    refused: list[int] = []

    class TakenOnce(socket.socket):
        def bind(self, address):
            if self.type == socket.SOCK_STREAM and not refused:
                refused.append(address[1])
                raise OSError(errno.EADDRINUSE, "Address already in use")
            return super().bind(address)

    monkeypatch.setattr(socket, "socket", TakenOnce)
    server = OscServer(host=None, config=OscConfig(port=0))
    server.start()
    try:
        assert refused and server.port != 0
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass  # TCP listens on the UDP socket's port
    finally:
        server.stop()


def test_the_reference_page_is_up_to_date():
    from pathlib import Path

    from mrtd.app.configdoc import osc_markdown

    page = Path(__file__).parent.parent / "docs" / "osc.md"
    assert page.read_text() == osc_markdown(), "docs/osc.md is stale: run `mrtd osc-reference > docs/osc.md`"


def test_xy_without_a_surface_is_refused_to_the_sender(rig):
    daemon, engine, probe = rig
    [(address, (about, reason))] = probe.exchange("/mrt/xy", 0.5, 0.5)
    assert (address, about) == ("/mrt/error", "/mrt/xy") and "no surface" in reason
    assert daemon.control.xy is None


def test_a_command_that_cannot_apply_is_refused_and_the_music_goes_on(rig):
    from mrtd.control.commands import SetWeight

    daemon, engine, probe = rig
    failed = daemon.control.failed
    daemon.control.submit(SetWeight("nobody", 1.0))  # raises on the generation thread: no such prompt
    wait_for(lambda: daemon.control.failed == failed + 1, 5, "the command to be refused")
    frames = len(engine.seen)
    settle(daemon, 5)
    assert len(engine.seen) >= frames + 5 and daemon.status()["underruns"] == 0


def test_record_start_and_stop_take_the_music_to_a_wav(rig, tmp_path):
    import wave

    daemon, engine, probe = rig
    assert probe.request("/mrt/record/start", "/mrt/record/started", "take one") == ["take one.wav"]
    [(address, (about, reason))] = probe.exchange("/mrt/record/start", "again")
    assert (address, about) == ("/mrt/error", "/mrt/record/start") and "already recording" in reason
    settle(daemon, 25)
    assert probe.request("/mrt/record/stop", "/mrt/record/stopped") == ["take one.wav"]
    with wave.open(str(tmp_path / "recordings" / "take one.wav")) as take:
        audio = np.frombuffer(take.readframes(take.getnframes()), dtype="<i2").reshape(-1, 2) / 32768
    assert len(audio) >= 25 * 1920
    assert np.abs(np.abs(audio).max() - engine.amp) < 0.01, "the tone, at its level"


def test_commands_after_a_load_in_one_bundle_meet_the_new_scene_and_refusals_reach_the_sender(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "old.yaml").write_text("name: old\nprompts: {a: alpha}\n")
    (folder / "new.yaml").write_text("name: new\nprompts: {b: beta, c: gamma}\n")
    with probed_daemon(tmp_path, scene=str(folder / "old.yaml"), scene_dir=str(folder)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "old", 5, "the old scene")
        start = probe.transcript.mark()
        probe.send_raw(bundle(None, message("/mrt/scene/load", "new"), message("/mrt/mix", "b", 0.25, "c", 0.75)))
        wait_for(lambda: daemon.control.style.weights() == {"b": 0.25, "c": 0.75}, 5, "the mix, in the new scene")
        probe.request("/mrt/ping", "/mrt/pong", "fence")
        assert probe.transcript.since(start).count("/mrt/error") == 0, f"b and c are the new scene's\n{probe.transcript.since(start)}"
        # A name neither scene has: refused, and the sender hears it once the load is done.
        probe.send_raw(bundle(None, message("/mrt/scene/load", "old"), message("/mrt/weight", "nothere", 0.5)))
        about, reason = probe.transcript.wait_for_first("/mrt/error", since=start, timeout=5).args
        assert (about, reason) == ("/mrt/weight", "no prompt 'nothere'")
        wait_for(lambda: daemon.control.scene == "old", 5, "the old scene again")
        # Right after a load, a wrong name is refused at once (it was let through for 5 s).
        assert probe.exchange("/mrt/mix", "nothere", 1.0) == [("/mrt/error", ["/mrt/mix", "no prompt 'nothere'"])]
