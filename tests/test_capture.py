"""The capture file: every command applied, on its frame; it survives a kill -9, stops cleanly when
full, is never written over, and a hostile one is refused in one line that quotes none of it."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import free_udp_port, wait_for
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.control import commands as c
from mrtd.control.state import QUEUE, TIMELINE
from mrtd.control.transport import ArmTransportSkip, TransportReset
from mrtd.core import capture as cap
from mrtd.core.capture import CaptureError, CaptureHeader, CaptureWriter, decode_record, read_capture, record_line
from mrtd.core.engines import SwapEngine
from mrtd.core.music import MusicState, Resume
from mrtd.core.scenes import FireCue, GoCue, InstallScene
from mrtd.frame import FRAME_SAMPLES
from mrtd.core.scene.loader import parse_scene
from mrtd.core.scene.player import PreparedScene
from mrtd.style.embedder import BuiltinEmbedder
from osc_probe import OscProbe
from style_fakes import builtin_control

EMBEDDER = BuiltinEmbedder()
SECRET = "SECRET-d41d8cd9"  # written into hostile files: no error may repeat it
HEADER = CaptureHeader("synth", None, 7, "builtin", EMBEDDER.identity, 1.8e9, 3, True)


def samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def mrtd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", *args], capture_output=True, text=True, timeout=timeout)


# -- what is recorded ---------------------------------------------------------------------------
def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found)) if found else found


def _one_of_each() -> list[c.Command]:
    embedding = EMBEDDER.embed_text("a warm pad")
    text = "name: s\nprompts: {a: warm pad}\ncues: [{name: one, at: 0, mix: {a: 1}}]\n"
    prepared = PreparedScene(parse_scene(text), Path("/scenes/s.yaml"), {"a": embedding}, None, text)
    music = MusicState(prompts={"a": "warm pad"}, mix={"a": 1.0}, params={"temperature": 1.3}, cue="one")
    return [c.SetParam("top_k", 40), c.SetParam("temperature", 0.7), c.SetParam("mute", True), c.Glide("volume", -6.0, 200.0),
            c.Toggle("mute"), c.NoteOn(60, 90), c.NoteOff(60), c.NotesClear(), c.Reset(True), c.Rest(True, 2.0, by_hours=True),
            c.DefinePrompt("a", "warm pad", None, 0.5), c.DefinePrompt("b", "cold", embedding), c.PromptReady("a", embedding),
            c.ClearPrompt("a"), c.SetWeight("a", 0.25), c.SetMix((("a", 1.0), ("b", 0.5)), 2.0, "beat", "s-curve"),
            c.SetAxis("weather", 0.5), c.SetAxis(2, -0.5), c.SetXY(0.1, 0.9), c.SetStyleTokens((1, 2, 3)),
            c.SetStyleTokens(None), c.SetStyleEmbedding(embedding), c.SetStyleEmbedding(None), c.AlignBeat(4.0, None, None, True),
            InstallScene(prepared, reload=True, position=250, heard_at=1.8e9), GoCue("next"), FireCue(0),
            Resume(music, {"a": embedding}, keep_place=False), SwapEngine("mrt2", "mrt2_small", 0, True),
            TransportReset(False), ArmTransportSkip()]


def _same(a: c.Command, b: c.Command) -> bool:
    """Equal field by field, arrays (and the scenes and embeddings that hold them) included."""
    def equal(x: object, y: object) -> bool:
        if isinstance(x, np.ndarray):
            return isinstance(y, np.ndarray) and np.array_equal(x, y)
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, PreparedScene):
            return isinstance(y, PreparedScene) and x.text == y.text and x.path == y.path and equal(x.embeddings, y.embeddings)
        return x == y
    return type(a) is type(b) and all(equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))


def test_every_command_that_changes_the_music_is_in_the_registry_and_reads_back_as_written():
    import mrtd.core.session  # noqa: F401  (every command class there is, imported)

    changing = {cls for cls in _subclasses(c.Command) if cls.__module__.startswith("mrtd.") and cls.recorded}
    assert changing == set(cap.KINDS.values()), changing ^ set(cap.KINDS.values())
    assert not c.Quantized.recorded, "a wrapper changes nothing itself"
    commands = _one_of_each()
    assert {type(command) for command in commands} == changing, "the round trip below covers every kind"
    for command in commands:
        frame, origin, back = decode_record(json.loads(record_line(42, command, TIMELINE)))
        assert (frame, origin) == (42, TIMELINE) and _same(back, command), command


def test_the_listener_hears_each_command_on_the_frame_it_applies_a_quantized_one_at_its_boundary():
    state = builtin_control()
    heard: list[tuple[int, str, str]] = []
    state.listener = lambda frame, command, origin: heard.append((frame, type(command).__name__, origin))
    state.set("tempo", 150.0)  # 10 frames a beat
    state.begin_frame(0)
    state.submit(c.Quantized(c.NoteOn(64), "beat"))
    state.submit(c.SetParam("temperature", 0.5))
    state.submit(c.SetParam("temperature", 0.6))  # the same frame: only the last applies, only it is heard
    for frame in range(1, 12):
        state.begin_frame(frame)
    state.apply_timeline(c.Rest(True, 1.0, by_hours=True))
    assert heard == [(1, "SetParam", QUEUE), (10, "NoteOn", QUEUE), (11, "Rest", TIMELINE)]
    assert state.values["temperature"] == pytest.approx(0.6) and state.coalesced == 1


def test_an_align_beat_is_kept_as_the_beat_it_set_not_the_wall_time_it_named():
    state = builtin_control()
    heard: list[c.Command] = []
    state.listener = lambda frame, command, origin: heard.append(command)
    state.frame_of = lambda wall: 100.0 + (wall - 1000.0) * 25  # frame 100 is heard at wall time 1000
    state.begin_frame(110)  # 0.4 s later: at the sender's 60 BPM, 0.4 beats on
    state.apply_now(c.AlignBeat(8.0, at=1000.0, bpm=60.0))
    assert heard == [c.AlignBeat(pytest.approx(8.4), None, None, False)]
    again = builtin_control()
    again.begin_frame(110)
    again.apply_now(heard[0])  # a replay: no output clock, the same beat
    assert again.clock.beat == pytest.approx(state.clock.beat)


# -- kill -9, full, never written over ------------------------------------------------------------
def test_a_kill_9_leaves_every_complete_record_and_a_replay_renders_it(tmp_path):
    capture, port = tmp_path / "killed.capture", free_udp_port()
    log = tmp_path / "run.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--output", "null", "--no-midi",
                                    "--no-web", "--osc-port", str(port), "--capture", str(capture)], stderr=stderr, cwd=tmp_path)
    probe = OscProbe(port)
    try:
        wait_for(lambda: "ready" in log.read_text() or process.poll() is not None, 30, "mrtd to start")
        assert process.poll() is None, log.read_text()
        for value in (0.25, 0.5, 0.75, 1.25):  # exact in float32, as OSC carries them
            probe.send("/mrt/temperature", value)
            wait_for(lambda: f'"value":{value}' in capture.read_text(), 10, f"temperature {value} in the capture")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        probe.close()
        if process.poll() is None:
            process.kill()
    read = read_capture(capture)
    assert read.ended == "" and read.header.engine == "synth"
    assert [command.value for _, _, command in read.records if isinstance(command, c.SetParam)] == [0.25, 0.5, 0.75, 1.25]
    with open(capture, "ab") as file:  # what a kill in the middle of a write leaves: half a line
        file.write(b'{"frame":9999,"command":"SetParam","name":"temp')
    cut = read_capture(capture)
    assert cut.partial_line and cut.records == read.records
    out = tmp_path / "killed.wav"
    done = mrtd("render", "--replay", str(capture), "-o", str(out))
    assert done.returncode == 0 and "no end record" in done.stderr, done.stderr
    assert len(samples(out)) == round((read.end_frame * 0.04 + 4.0) * 25) * FRAME_SAMPLES


def test_a_capture_that_fills_stops_cleanly_and_the_music_goes_on(tmp_path, caplog):
    capture = tmp_path / "small.capture"
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, capture=str(capture),
                                 capture_max_mb=0.004, cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path)))
    with caplog.at_level(logging.ERROR):
        daemon.start()
        try:
            for n in range(400):  # discrete: none coalesced; about 60 bytes each
                daemon.control.submit(c.NoteOn(40 + n % 40) if n % 2 else c.NoteOff(40 + n % 40))
            wait_for(lambda: daemon.status()["capture_state"] == "full", 10, "the capture to fill")
            frames = daemon.generator.frames
            wait_for(lambda: daemon.generator.frames > frames + 25, 10, "the music to go on")
            status = daemon.status()
        finally:
            daemon.stop()
    assert status["underruns"] == 0 and status["capture_records"] > 10
    assert capture.stat().st_size <= 4000
    assert json.loads(capture.read_text().splitlines()[-1])["end"] == "full"
    read = read_capture(capture)
    assert read.ended == "full" and len(read.records) == status["capture_records"]
    errors = [r.getMessage() for r in caplog.records if "capture" in r.getMessage()]
    assert len(errors) == 1 and "capture_max_mb" in errors[0] and "the music goes on" in errors[0], errors


def test_a_stopped_capture_is_on_the_disk_to_its_end_record(tmp_path, monkeypatch):
    """A power cut after the set keeps the whole capture: the end record is synced, and the new
    file's name with its folder."""
    synced: list[tuple[str, int]] = []  # (what was synced, its bytes then)
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size)),
                                                 real_fsync(fd)))
    capture = tmp_path / "set.capture"
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, capture=str(capture),
                                 cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path)))
    daemon.start()
    try:
        daemon.control.submit(c.NoteOn(60))
        wait_for(lambda: daemon.status()["capture_records"] >= 1, 10, "the note in the capture")
    finally:
        daemon.stop()
    assert read_capture(capture).ended == "stopped"
    assert synced[-1] == (str(capture), capture.stat().st_size), "the end record was synced, last"
    assert str(tmp_path) in {name for name, _ in synced}, "the folder, for the new name"


def test_an_existing_capture_is_never_written_over_nor_a_symlink_followed(tmp_path):
    taken = tmp_path / "taken.capture"
    taken.write_text("yesterday's set\n")
    target = tmp_path / "elsewhere"
    link = tmp_path / "link.capture"
    link.symlink_to(target)  # dangling: O_EXCL refuses it rather than create what it names
    for path in (taken, link):
        done = mrtd("run", "--engine", "synth", "--output", "null", "--no-midi", "--no-web", "--no-osc", "--seconds", "1",
                    "--capture", str(path))
        assert done.returncode == 2 and "never written over" in done.stderr, done.stderr
    assert taken.read_text() == "yesterday's set\n" and not target.exists()
    with pytest.raises(CaptureError, match="never written over"):
        CaptureWriter(taken)


def test_a_start_that_fails_before_the_music_leaves_no_capture_to_refuse_the_next_start(tmp_path, monkeypatch):
    from mrtd.engines.mrt2 import ModelError

    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path))  # no model there
    capture = tmp_path / "first.capture"
    daemon = Daemon(DaemonConfig(engine="mrt2", model="mrt2_nowhere", fallback_engine=None, output="null", osc=None,
                                 midi=False, capture=str(capture), cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path)))
    with pytest.raises(ModelError):
        daemon.start()
    daemon.stop()
    assert not capture.exists(), "the empty file it made is gone: the same command works once the model is there"


# -- hostile files --------------------------------------------------------------------------------
def _valid_lines() -> list[bytes]:
    return [HEADER.line(), record_line(0, c.SetParam("temperature", 0.5), QUEUE), record_line(3, c.NoteOn(60), QUEUE)]


def _hostile(name: str) -> tuple[list[bytes], int]:
    """A capture with one thing wrong, and the line it is on."""
    lines = _valid_lines()
    bad = {
        "not json": (b"{" + SECRET.encode() + b"\n", 2),
        "unknown kind": (json.dumps({"frame": 1, "command": SECRET}).encode() + b"\n", 2),
        "wrong type": (json.dumps({"frame": 1, "command": "SetParam", "name": "temperature", "value": SECRET}).encode() + b"\n", 2),
        "unknown parameter": (json.dumps({"frame": 1, "command": "SetParam", "name": SECRET, "value": 1}).encode() + b"\n", 2),
        "extra field": (json.dumps({"frame": 1, "command": "NoteOff", "pitch": 3, SECRET: 1}).encode() + b"\n", 2),
        "short embedding": (json.dumps({"frame": 1, "command": "PromptReady", "name": "a", "embedding": {"f32": SECRET}}).encode() + b"\n", 2),
        "bad scene": (json.dumps({"frame": 1, "command": "InstallScene", "prepared": {"scene": {
            "path": "s.yaml", "text": f"tempo: {SECRET}\n", "embeddings": {"map": {}}, "pca": None}}}).encode() + b"\n", 2),
        "frames back": (record_line(1, c.NoteOff(60), QUEUE), 4),
        "after the end": (cap.end_line(5, "stopped") + record_line(6, c.NoteOff(60), QUEUE), 5),
        "nested": (b"[" * 100_000 + b"]" * 100_000 + b"\n", 2),
        "bad origin": (json.dumps({"frame": 1, "origin": SECRET, "command": "NotesClear"}).encode() + b"\n", 2),
    }[name]
    line, number = bad
    if name in ("frames back", "after the end"):
        return lines + [line], number
    return lines[:1] + [line] + lines[1:], number


@pytest.mark.parametrize("name", ["not json", "unknown kind", "wrong type", "unknown parameter", "extra field",
                                  "short embedding", "bad scene", "frames back", "after the end", "nested", "bad origin"])
def test_a_malformed_capture_is_refused_in_one_line_naming_file_and_line_quoting_nothing(tmp_path, name):
    path = tmp_path / "hostile.capture"
    lines, number = _hostile(name)
    path.write_bytes(b"".join(lines))
    with pytest.raises(CaptureError) as refused:
        read_capture(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:{number}: ") and "\n" not in message and SECRET not in message, message
    assert len(message) < len(str(path)) + 200


def test_a_hostile_header_a_fifo_an_overlong_line_and_too_many_records_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "hostile.capture"
    for header in ({"format": "mrtd-capture", "version": 2}, {"format": SECRET}, {**json.loads(HEADER.line()), "engine": SECRET},
                   {**json.loads(HEADER.line()), SECRET: 1}, [SECRET]):
        path.write_bytes(json.dumps(header).encode() + b"\n")
        with pytest.raises(CaptureError) as refused:
            read_capture(path)
        assert str(refused.value).startswith(f"{path}:1: ") and SECRET not in str(refused.value)
    fifo = tmp_path / "fifo.capture"
    os.mkfifo(fifo)
    with pytest.raises(CaptureError, match="not a regular file"):
        read_capture(fifo)  # refused at once: never waits for a writer
    monkeypatch.setattr(cap, "MAX_LINE_BYTES", 300)
    path.write_bytes(HEADER.line() + b'{"frame":1,"command":"NoteOff","pitch":' + b" " * 400 + b"1}\n")
    with pytest.raises(CaptureError, match=r":2: a line over 300 bytes"):
        read_capture(path)
    monkeypatch.setattr(cap, "MAX_RECORDS", 2)
    path.write_bytes(b"".join(_valid_lines()) + record_line(4, c.NoteOff(60), QUEUE))
    with pytest.raises(CaptureError, match=r":4: more than 2 records"):
        read_capture(path)


def test_mrtd_render_refuses_a_hostile_capture_in_one_line_and_writes_nothing(tmp_path):
    path, out = tmp_path / "hostile.capture", tmp_path / "out.wav"
    lines, _ = _hostile("unknown kind")
    path.write_bytes(b"".join(lines))
    done = mrtd("render", "--replay", str(path), "-o", str(out))
    assert done.returncode == 2 and not out.exists(), done.stderr
    said = [line for line in done.stderr.splitlines() if "hostile.capture" in line]
    assert said == [f"not rendered: {path}:2: a command this mrtd does not know"], done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr


# -- engines, embedders -----------------------------------------------------------------------------
def _session(tmp_path: Path, name: str, during) -> tuple[Path, Path]:
    """A live synth session on the null output, captured and recorded; `during(daemon)` plays it."""
    capture, live = tmp_path / f"{name}.capture", tmp_path / f"{name}.wav"
    daemon = Daemon(DaemonConfig(engine="synth", seed=5, output="null", outputs=[f"wav:{live}"], osc=None, midi=False,
                                 capture=str(capture), cache_dir=str(tmp_path / "cache"), scene_dir=str(tmp_path)))
    daemon.start()
    try:
        during(daemon)
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > frames + 30, 20, "the music after it")
    finally:
        daemon.stop()
    return capture, live


def test_an_engine_swap_is_replayed_on_its_frame_unless_another_engine_is_asked_for(tmp_path):
    def swap(daemon: Daemon) -> None:
        daemon.control.submit(c.NoteOn(57))
        wait_for(lambda: daemon.generator.frames > 10, 20, "a few frames")
        daemon.swap_engine("synth").result(60)  # /mrt/model's path: loaded aside, crossfaded in

    capture, live = _session(tmp_path, "swap", swap)
    [(frame, origin, swapped)] = [r for r in read_capture(capture).records if isinstance(r[2], SwapEngine)]
    assert origin == "engine" and swapped == SwapEngine("synth", None, 4, False) and frame > 10
    again, other = tmp_path / "again.wav", tmp_path / "other.wav"
    assert mrtd("render", "--replay", str(capture), "-o", str(again)).returncode == 0
    assert np.array_equal(samples(again), samples(live)), "the swap replayed on its frame, crossfade and all"
    done = mrtd("render", "--replay", str(capture), "-o", str(other), "--engine", "synth")
    assert done.returncode == 0 and "1 engine swap(s) in the capture are not played" in done.stderr, done.stderr
    heard, played = samples(live), samples(other)
    assert np.array_equal(heard[: frame * FRAME_SAMPLES], played[: frame * FRAME_SAMPLES])
    assert not np.array_equal(heard[frame * FRAME_SAMPLES:], played[frame * FRAME_SAMPLES:]), "no swap: the old synth plays on"


def test_stored_embeddings_are_used_only_with_the_embedder_that_made_them(tmp_path):
    def prompt(daemon: Daemon) -> None:  # as /mrt/prompt does it: defined now, encoded aside, ready later
        daemon.control.submit(c.DefinePrompt("sea", "waves on shingle", None, 1.0))
        daemon.encoder.submit("sea", text="waves on shingle")
        assert daemon.capture is not None
        wait_for(lambda: b'"PromptReady"' in daemon.capture.path.read_bytes(), 20, "the prompt to be encoded")

    capture, live = _session(tmp_path, "prompt", prompt)
    # Doctor the stored embedding: a replay that used it would sound different.
    lines = capture.read_bytes().splitlines(keepends=True)
    other = cap._floats(EMBEDDER.embed_text("a brass band in a tunnel"))
    doctored = [line if b'"PromptReady"' not in line else
                json.dumps({**json.loads(line), "embedding": other}, separators=(",", ":")).encode() + b"\n" for line in lines]
    assert doctored != lines
    same_embedder, other_embedder = tmp_path / "same.capture", tmp_path / "other.capture"
    same_embedder.write_bytes(b"".join(doctored))
    header = json.loads(doctored[0])
    other_embedder.write_bytes(json.dumps({**header, "style_identity": "another-embedder-v9"}).encode() + b"\n"
                               + b"".join(doctored[1:]))
    stored, encoded = tmp_path / "stored.wav", tmp_path / "encoded.wav"
    assert mrtd("render", "--replay", str(same_embedder), "-o", str(stored)).returncode == 0
    done = mrtd("render", "--replay", str(other_embedder), "-o", str(encoded))
    assert done.returncode == 0 and "encoded again with this machine's embedder" in done.stderr, done.stderr
    assert np.array_equal(samples(encoded), samples(live)), "the text, encoded here, steers it as it did live"
    assert not np.array_equal(samples(stored), samples(live)), "the same embedder: the stored (doctored) vector is used"


def test_a_scene_on_the_clock_replays_where_it_started_whatever_the_clock_says_now(tmp_path):
    """The capture keeps the wall time the scene installed at and its timeline's cues and hours as
    commands: a replay hours later (its own clock elsewhere) plays what was played."""
    from datetime import datetime, timezone

    from mrtd.core.replay import ReplayFeed
    from mrtd.core.session import build_session
    from mrtd.style.cache import CachedEmbedder, EmbeddingCache
    from mrtd.style.quantizer import BuiltinQuantizer
    from mrtd.style.space import StyleSpace

    scene = tmp_path / "closing.yaml"
    scene.write_text('timezone: UTC\nhours: {open: "10:00", close: "18:00", fade: 0.6}\nprompts: {a: alpha, b: beta}\n'
                     'cues:\n  - {name: five, at: "17:00", mix: {a: 1}}\n'
                     '  - {name: last, at: "17:59:59", mix: {b: 1}, fade: {seconds: 2}}\n')
    start = datetime(2026, 6, 10, 17, 59, 58, tzinfo=timezone.utc).timestamp()

    def play(wall_start: float, feed=None) -> tuple[list, list]:
        session = build_session(StyleSpace(BuiltinQuantizer()), CachedEmbedder(EMBEDDER, EmbeddingCache(str(tmp_path / "cache"))),
                                wall_at=lambda frame: wall_start + frame * 0.04)
        heard: list[bytes] = []
        state = session.control
        if feed is None:
            state.listener = lambda frame, command, origin: heard.append(record_line(frame, command, origin))
            session.scenes.load(scene)
        else:
            state.feed = feed
        shown = []
        for frame in range(90):
            state.begin_frame(frame)
            session.scenes.tick(state)
            state.frame_conditioning()
            shown.append((state.cue, state.rest_wanted, state.rest_fade_frames,
                          {n: round(w, 6) for n, w in state.style.weights().items()}))
        return heard, shown

    heard, live = play(start)
    records = [decode_record(json.loads(line)) for line in heard]
    assert [(type(cmd).__name__, origin) for _, origin, cmd in records] == [
        ("InstallScene", QUEUE), ("FireCue", TIMELINE), ("Rest", TIMELINE)]
    assert records[0][2].heard_at == pytest.approx(start)
    _, replayed = play(start + 3 * 3600, ReplayFeed(records))  # a replay three hours on: closed by then
    assert replayed == live
    assert live[10][0] == "five" and live[30][0] == "last" and not live[40][1] and live[60][1]
