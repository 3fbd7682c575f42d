"""The Python client (`mrtd.client`, sync and asyncio) and `mrtd send` / `mrtd status`, against a running daemon."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clients_rig import running_daemon
from conftest import wait_for
from mrtd.client import AsyncClient, Client, MrtdError, NoReply, bundle, parse_arg
from mrtd.conditioning import NOTE_HELD


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    with running_daemon(tmp_path_factory.mktemp("python-client")) as rig:
        yield rig


@pytest.fixture
def client(rig):
    with Client(port=rig.port) as client:
        yield client


def test_commands_reach_the_engine(rig, client):
    client.temperature(1.7)
    client.topk(33)
    client.cfg_style(4.5)
    client.cfg_notes(2.0)
    client.cfg_drums(1.5)
    client.drums(1)
    client.note_on(64, 90)
    rig.wait_engine(
        lambda c: np.allclose((c.temperature, c.top_k, c.cfg_style, c.cfg_notes, c.cfg_drums, c.drums), (1.7, 33, 4.5, 2.0, 1.5, 1))
        and c.notes[64] >= NOTE_HELD,
        "sampling, guidance, drums and a note from the client",
    )
    client.note_off(64)
    rig.wait_engine(lambda c: c.notes[64] <= 0, "note off")
    client.prompt("dark", "dark ambient drone")
    client.prompt("bright", "bright fast techno")
    client.mix({"dark": 0.25, "bright": 0.75})
    rig.wait_snapshot("/mrt/mix", lambda m: m == ["bright", 0.75, "dark", 0.25], "the mix")
    client.volume(-6.0)
    client.tempo(100)
    rig.wait_snapshot("/mrt/tempo", lambda v: v == [100.0], "tempo")
    rig.wait_snapshot("/mrt/volume", lambda v: v == [-6.0], "volume")


def test_replies_status_ping_sync_and_errors(rig, client):
    status = client.status()
    assert status["engine"] == "tone" and status["output"] == "null" and status["frames"] > 0
    assert 0 < client.ping() < 1.0
    state = client.sync()
    assert "/mrt/volume" in state and "/mrt/temperature" in state
    with pytest.raises(MrtdError, match="temperature"):
        client.send_checked("/mrt/temperature", 9.0)
    with pytest.raises(MrtdError):
        client.send_checked("/mrt/cue/next")  # no scene loaded: the daemon says so
    assert client.send_checked("/mrt/reset") == []


def test_the_state_comes_back_typed_and_a_parameter_as_the_request_that_sets_it(rig, client):
    from mrtd.vocabulary import requests as q
    from mrtd.vocabulary import shown

    client.temperature(1.3)
    client.mute(True)
    rig.wait_snapshot("/mrt/mute", lambda v: v == [1], "mute")
    state = client.state()
    # OSC carries float32: 1.3 comes back as 1.2999999523
    assert type(state["/mrt/temperature"]) is q.Temperature and state["/mrt/temperature"].value == pytest.approx(1.3)
    assert state["/mrt/mute"] == q.Mute(True)
    assert isinstance(state["/mrt/beat"], shown.Beat) and state["/mrt/beat"].bpm > 0
    assert state["/mrt/scene"] == shown.ScenePlaying("")
    client.mute(False)
    rig.wait_snapshot("/mrt/mute", lambda v: v == [0], "unmute")
    client.send_request(state["/mrt/mute"])  # what the surface showed, sent back: muted again
    rig.wait_snapshot("/mrt/mute", lambda v: v == [1], "mute sent back")
    client.mute(False)
    rig.wait_snapshot("/mrt/mute", lambda v: v == [0], "unmuted for the next test")


def test_timetagged_bundle_is_applied_at_its_time(rig, client):
    start = time.time()
    due = start + 0.6
    client.send_bundle([("/mrt/temperature", [0.25]), ("/mrt/topk", [5])], at=due)
    wait_for(lambda: rig.conditioning().top_k == 5, 5, "the bundle")
    applied = time.time()
    assert rig.conditioning().temperature == 0.25, "a bundle's messages apply together"
    # Generated up to the lead (3 frames = 120 ms, plus a frame) ahead of when it is heard.
    assert applied > due - 0.3, f"applied {due - applied:.3f}s before its time"
    client.temperature(1.1, at=time.time() + 0.2)  # one message: still a bundle
    wait_for(lambda: np.isclose(rig.conditioning().temperature, 1.1), 5, "a timetagged message")


def test_no_daemon_is_a_timeout_not_a_hang():
    with Client(port=9, timeout=0.2) as nobody:  # the discard port: nothing answers
        with pytest.raises(NoReply):
            nobody.status()


def test_async_client(rig):
    async def session() -> None:
        async with AsyncClient(port=rig.port) as mrt:
            status = await mrt.status()
            assert status["engine"] == "tone"
            assert await mrt.ping() < 1.0
            port = await mrt.subscribe()
            assert port > 0
            await mrt.temperature(2.2)
            while await asyncio.wait_for(mrt.messages.get(), 5) != ("/mrt/temperature", [pytest.approx(2.2)]):
                pass  # other pushes (mix, notes) may come first
            state = await mrt.sync()
            assert state["/mrt/temperature"] == [pytest.approx(2.2)]
            assert (await mrt.state())["/mrt/temperature"].value == pytest.approx(2.2)
            with pytest.raises(MrtdError):
                await mrt.request("/mrt/scene/load", "nowhere", reply="/mrt/scene")
            await mrt.unsubscribe()

    asyncio.run(session())
    rig.wait_engine(lambda c: abs(c.temperature - 2.2) < 1e-6, "temperature from the async client")


def test_bundle_bytes_and_argument_parsing():
    packet = bundle([("/mrt/ping", [1])], at=None)
    assert packet.startswith(b"#bundle\x00") and packet[8:16] == b"\x00" * 7 + b"\x01"
    assert [parse_arg(a) for a in ("3", "-1.5", "dark", "1e3")] == [3, -1.5, "dark", 1000.0]


def _mrtd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", *args], capture_output=True, text=True, timeout=60)


def test_mrtd_send_and_status_commands(rig):
    port = str(rig.port)
    sent = _mrtd("send", "--port", port, "/mrt/cfg/style", "6.5")
    assert sent.returncode == 0 and sent.stdout == f"ok: mrtd at 127.0.0.1:{port} took /mrt/cfg/style 6.5\n", sent.stderr
    rig.wait_engine(lambda c: c.cfg_style == 6.5, "mrtd send /mrt/cfg/style 6.5")
    quiet = _mrtd("send", "-q", "--port", port, "/mrt/cfg/style", "6.5")
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stderr

    pong = _mrtd("send", "--port", port, "/mrt/ping", "7", "-0.5", "hello")
    assert pong.returncode == 0 and pong.stdout.splitlines() == ["/mrt/pong 7 -0.5 hello"]

    refused = _mrtd("send", "--port", port, "/mrt/topk", "0")
    assert refused.returncode == 1 and refused.stdout.startswith("/mrt/error /mrt/topk")

    status = _mrtd("status", "--port", port)
    assert status.returncode == 0, status.stderr
    fields = dict(line.split(":", 1) for line in status.stdout.splitlines())
    assert fields["engine"].strip() == "tone" and int(fields["frames"]) > 0
    assert {"output", "underruns", "step_ms", "lead_frames", "margin_ms", "control_latency_ms", "mix"} <= set(fields)
    # The pacing as numbers: frames start some way ahead, a command waits a frame and that to be heard
    # (the latest frame's, and up to one of the null output's 10 ms blocks more where another frame's
    # first sample falls), the margin is at least the one set (wider after trouble on a busy machine).
    ahead_ms = float(fields["lead_frames"]) * 40
    assert ahead_ms > 0 and 40 + ahead_ms - 1 <= float(fields["control_latency_ms"]) <= 40 + ahead_ms + 10 + 1
    assert float(fields["margin_ms"]) >= float(fields["margin_set_ms"]) == 12
    # every float came as a 32-bit OSC float: shown as that number (1.3), never as its double (1.2999999523162842)
    floats = [v.strip() for v in fields.values() if re.fullmatch(r"-?\d+\.\d+(e-?\d+)?", v.strip())]
    assert floats and all(len(v.lstrip("-").replace(".", "")) <= 9 for v in floats), fields


def test_floats_print_as_the_32_bit_numbers_they_are(rig):
    port = str(rig.port)
    pong = _mrtd("send", "--port", port, "/mrt/ping", "f:1.3", "0.1", "f:100000.5", "f:3e-05")
    assert pong.stdout.splitlines() == ["/mrt/pong 1.3 0.1 100000.5 3e-05"], pong.stdout


def test_mrtd_status_without_a_daemon_says_so():
    result = _mrtd("status", "--port", "9", "--timeout", "0.2")
    assert result.returncode == 2 and "no reply from mrtd at 127.0.0.1:9" in result.stderr


def test_the_client_proves_its_address_before_asking_for_big_replies(rig):
    """Off loopback an unproven address gets a small reply budget; the client says hello first."""
    from mrtd.inputs.osc.admission import ReplyGuard

    osc, kept = rig.daemon.osc, rig.daemon.osc.guard
    guard = osc.guard = ReplyGuard(trust_loopback=False)  # loopback treated as another machine would be
    try:
        with Client(port=rig.port) as client:
            assert not guard.proven("127.0.0.1")
            state = client.sync()
            assert client.proven and guard.proven("127.0.0.1")
            assert "/mrt/volume" in state and "/mrt/mix" in state

        async def run() -> bool:
            async with AsyncClient(port=rig.port) as mrt:
                await mrt.subscribe()
                return mrt.proven

        assert asyncio.run(run())
    finally:
        osc.guard = kept


def test_the_client_proves_its_address_again_before_the_daemon_forgets_it(rig):
    """The daemon keeps a proof for PROOF_S (10 min); a LAN client asking for status an hour into a
    set must say hello again rather than wait for a reply that never comes."""
    import time

    from mrtd.client import REPROVE_S
    from mrtd.inputs.osc.admission import PROOF_S, ReplyGuard

    assert REPROVE_S < PROOF_S, "the client renews before the daemon forgets"
    now = [time.monotonic()]
    osc, kept = rig.daemon.osc, rig.daemon.osc.guard
    guard = osc.guard = ReplyGuard(trust_loopback=False, clock=lambda: now[0])
    try:
        with Client(port=rig.port, timeout=2.0) as client:
            client.status()
            proofs = guard.counters.proofs
            now[0] += PROOF_S + 1  # the daemon has forgotten...
            client.proven_at -= REPROVE_S + 1  # ...and the client has played on for as long
            assert client.status()["frames"] > 0, "status still answers"
            assert guard.counters.proofs == proofs + 1 and guard.proven("127.0.0.1")
    finally:
        osc.guard = kept


class _Checking(Client):
    """A client whose every command is fenced and checked: a refusal raises MrtdError at once."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self.addresses: set[str] = set()
        self._checking = False

    def send(self, address, *args, at=None):
        if self._checking:  # the fence's own sends
            return super().send(address, *args, at=at)
        self.addresses.add(address)
        self._checking = True
        try:
            self.send_checked(address, *args)
        finally:
            self._checking = False


# What the client's command methods are called with; a refusal that depends on the daemon's
# state (no scene, MIDI off in the rig) is named, so an argument the daemon does not accept fails.
CALLS = [
    ("prompt", ("a", "warm pads", 0.5), None), ("prompt", ("b", "cold rain"), None), ("weight", ("a", 0.7), None),
    ("mix", ({"a": 1.0, "b": 0.5}, "4 beats", "equal-power"), None), ("mix", ({"a": 1.0}, 2.0), None),
    ("axis", ("warmth", 0.5), "no axis"), ("xy", (0.3, 0.4), "surface"),
    ("style_tokens", ([1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1],), None), ("style_tokens", (None,), None),
    ("style_embedding", ([0.01] * 768,), None), ("style_embedding", (None,), None),
    ("temperature", (1.2,), None), ("topk", (40,), None), ("seed", (3,), None), ("cfg_style", (2.0,), None),
    ("cfg_notes", (3.0,), None), ("cfg_drums", (1.0,), None), ("note_on", (60, 90), None), ("note_off", (60,), None),
    ("notes_clear", (), None), ("unmask", (4,), None), ("onset_mode", (1,), None), ("midigate", (False,), None),
    ("drums", (-1,), None), ("volume", (-3.0,), None), ("mute", (False,), None), ("bypass", (False,), None),
    ("listen_notes", (False,), None), ("listen_tempo", (False,), None), ("listen_style", (0.0,), None),
    ("reset", (), None), ("stop", (0.5,), None), ("start", (0.5,), None), ("scene_load", ("nothing-here",), "no scene"), ("cue", ("verse", "bar"), "no scene"),
    ("cue_next", (), "no scene"), ("tempo", (110.0, 4), None), ("meter", (3,), None),
    ("on_grid", ("bar", "/mrt/temperature", 1.1), None), ("learn", ("temperature",), "MIDI is off when off"),
    ("event", (), None), ("prompt_clear", ("b",), None), ("solo", (False,), None),
]


def test_every_command_the_client_builds_is_one_the_daemon_accepts(rig):
    """The client builds its messages itself: each must pass the daemon's own table, and between
    them the commands cover every canonical address that is a command."""
    client = _Checking(rig.port)
    try:
        wrong = []
        midi_off = rig.daemon.midi.input is None  # MIDI opens where there is a sequencer or a JACK server
        for method, args, state_error in CALLS:
            if state_error == "MIDI is off when off":
                state_error = "MIDI is off" if midi_off else None
            try:
                getattr(client, method)(*args)
            except MrtdError as exc:
                if state_error is None or state_error not in exc.reason:
                    wrong.append(f"{method}{args}: {exc}")
            else:
                if state_error is not None:
                    wrong.append(f"{method}{args} was accepted; expected '{state_error}'")
        assert wrong == []
        client.event(note=2, velocity=0.5)
    finally:
        client.close()
    from mrtd.inputs.osc.table import TABLE

    replies = {"/mrt/status", "/mrt/sync", "/mrt/ping", "/mrt/hello", "/mrt/subscribe", "/mrt/unsubscribe",
               "/mrt/prefill", "/mrt/prefill/tokens", "/mrt/tokens/save", "/mrt/model", "/mrt/record/start", "/mrt/record/stop", "/mrt/buffersize",
               "/mrt/state/save", "/mrt/state/load", "/mrt/state/factory"}  # request() methods
    dialects = {"/seedrotation", "/drumless", "/prompt", "/prompt_clear",  # the official front ends' own forms
                "/dirt/play", "/n", "/p", "/w", "/c", "/t", "/x"}  # other clients' names
    commands = {row.path for row in TABLE} - replies - dialects
    assert commands - client.addresses == set(), "addresses no client command sends"


README = Path(__file__).resolve().parent.parent / "clients" / "python" / "README.md"


def _readme_blocks(language: str) -> list[str]:
    """The README's code blocks in `language`, as written."""
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


def _on_port(code: str, port: int) -> str:
    """The README's code aimed at the test daemon: its one address, 127.0.0.1:7400, moved to `port`."""
    assert "7400" in code
    return code.replace("7400", str(port))


def test_the_readmes_python_example_runs_as_written(rig, tmp_path):
    (code,) = _readme_blocks("python")
    ran = subprocess.run([sys.executable, "-c", _on_port(code, rig.port)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
    frames, rtt = ran.stdout.splitlines()[0].split()
    assert int(frames) > 0 and 0 < float(rtt) < 1
    rig.wait_snapshot("/mrt/prompts", lambda v: "bright fast techno" in v, "the README's prompts")


def test_the_readmes_python_example_with_a_prompt_missing_says_so(rig, tmp_path):
    """The mistake the README once made (mixing in `bright`, never defined) stops with the daemon's reason."""
    (code,) = _readme_blocks("python")
    broken = re.sub(r".*mrt\.prompt\(\"bright\".*\n", "", code).replace("bright", "never-defined")
    ran = subprocess.run([sys.executable, "-c", _on_port(broken, rig.port)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert ran.returncode == 1, ran.stdout
    assert "MrtdError: /mrt/mix:" in ran.stderr and "never-defined" in ran.stderr, ran.stderr


def test_the_readmes_shell_example_runs_as_written(rig):
    (code,) = _readme_blocks("sh")
    for line in code.strip().splitlines():
        command = shlex.split(line)
        assert command[0] == "mrtd"
        done = _mrtd(command[1], "--port", str(rig.port), *command[2:])
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    rig.wait_snapshot("/mrt/prompts", lambda v: "warm analog synthwave" in v, "the README's shell prompt")


def test_a_fire_and_forget_refusal_reaches_on_error_or_the_log(rig, caplog):
    seen: list[MrtdError] = []
    with Client(port=rig.port, on_error=seen.append) as mrt:
        mrt.mix({"nobody-defined-this": 1.0})  # fire and forget
        mrt.ping()  # reading a reply sees the refusal that came back before it
    assert [(e.address, "nobody-defined-this" in e.reason) for e in seen] == [("/mrt/mix", True)]

    with caplog.at_level("WARNING", logger="mrtd.client"):
        with Client(port=rig.port) as mrt:
            mrt.topk(0)
            mrt.ping()
    assert [m for m in caplog.messages if m.startswith("mrtd refused /mrt/topk:")], caplog.messages


def test_checked_clients_raise_on_a_refused_command(rig):
    with Client(port=rig.port, check=True) as mrt:
        mrt.temperature(1.3)  # accepted: returns
        with pytest.raises(MrtdError) as refused:
            mrt.mix({"nobody-defined-this": 1.0})
        assert refused.value.address == "/mrt/mix"
        assert mrt.status()["engine"] == "tone"  # requests still wait for their own replies

    async def session() -> None:
        async with AsyncClient(port=rig.port, check=True) as mrt:
            await mrt.temperature(1.4)
            with pytest.raises(MrtdError):
                await mrt.topk(0)

    asyncio.run(session())
