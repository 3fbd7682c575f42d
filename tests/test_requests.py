"""One request vocabulary: what a client builds is what the daemon decodes, through the table's rows.

The classes in `mrtd.vocabulary.requests` are the only definition of each request: the client
builds them, the OSC table's rows (and the web page's messages) decode with them. These tests
hold the two sides together: every row's class survives its own wire form, every client
method sends exactly the request the daemon decodes, and a malformed message is refused with
the same words whether a class decodes it here or the server does.
"""

from __future__ import annotations

import inspect
import socket
import struct
import threading
from typing import Any

import pytest

from mrtd.client import Client, Commands
from mrtd.inputs.osc.server import OscServer
from mrtd.inputs.osc.table import BY_REQUEST, ROUTES, TABLE
from mrtd.vocabulary import replies as r
from mrtd.vocabulary import requests as q
from mrtd.vocabulary.codec import encode, timed_messages

# One sample per request class, with numbers that a 32-bit OSC float carries exactly, so each
# survives the wire unchanged. Which classes need one is the table's to say (see the tests).
SAMPLES: dict[type[q.Request], q.Request] = {s.__class__: s for s in (
    q.Prompt("pad", "warm analog pads", 0.5), q.PromptClear("pad"),
    q.Mix((("a", 1.0), ("b", 0.25)), 4.0, "beat", "equal-power"), q.Weight("3", 0.75),
    q.Axis(2, -1.5), q.XY(0.25, -3.0), q.StyleTokens((1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1)),
    q.StyleEmbedding(struct.pack("<768f", *[i / 1024 for i in range(768)])),
    q.Temperature(1.25), q.TopK(40), q.Seed(7), q.SeedRotation(3), q.CfgStyle(2.5), q.CfgNotes(-0.5),
    q.CfgDrums(6.0), q.NoteOn(60, 90), q.NoteOff(61), q.NotesClear(), q.Unmask(12), q.OnsetMode(1),
    q.Midigate(False), q.Drums(-1), q.Drumless(True), q.Volume(-6.0), q.Mute(True), q.Bypass(False),
    q.ListenNotes(True), q.ListenTempo(False), q.ListenStyle(0.5), q.Reset(), q.Stop(30.0), q.Start(1.5), q.SceneLoad("song"), q.Cue("verse", ("bar", 2)), q.CueNext(("beat", 1)),
    q.Learn("warmth", "axis"), q.Tempo(98.5, 3), q.Meter(7), q.At(("bar", 4), q.Mix((("a", 0.5),), 2.0)),
    q.Event(("note", 2, "velocity", 0.5)), q.DirtPlay(("s", "mrt", "n", 3.0)), q.OrcaNote((4, 0, 35, 2)),
    q.OrcaParam((0, 20)), q.OrcaWeight((1, 35)), q.OrcaCue((2,)), q.OrcaTempo((3, 12)), q.OrcaClear(),
    q.Status(), q.Sync(), q.Ping(("fence-1", 2)), q.Hello(123456), q.Subscribe(9000), q.Unsubscribe(None),
    q.Prefill("intro.wav"), q.PrefillTokens("intro.npy"), q.TokensSave("branch"), q.Model("mrt2_small"), q.RecordStart("take"), q.RecordStop(),
    q.OfficialPrompt(2, "warm pads", 0.5), q.OfficialPromptClear(4), q.BufferSize(4096), q.Solo(True),
    q.StateSave(3), q.StateLoad(16), q.StateFactory(),
)}


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.path)
def test_every_rows_request_survives_its_own_wire_form(row):
    sample = SAMPLES.get(row.request)
    assert sample is not None, f"no sample for {row.request.__name__} ({row.path})"
    assert row.request.from_args(sample.args()) == sample
    # ... and the OSC bytes, as the server parses them; under every address the row answers to.
    for address in (row.path, *row.aliases):
        ((_due, got, args),) = timed_messages(encode(address, sample.args()))
        assert ROUTES[got] is row and q.decode(got, args) == sample


def test_the_vocabulary_and_the_table_name_the_same_addresses():
    assert set(q.REQUESTS) == set(ROUTES)
    assert all(BY_REQUEST[q.REQUESTS[address]] is row for address, row in ROUTES.items())


def test_a_request_on_the_grid_is_decoded_with_its_own_class():
    assert q.decode("/mrt/at", ["2 bars", "/noteon", 60]) == q.At(("bar", 2), q.NoteOn(60, 100))
    with pytest.raises(ValueError, match="pitch must be a whole number 0-127, got 300"):
        q.decode("/mrt/at", ["bar", "/mrt/note/on", 300])
    with pytest.raises(ValueError, match="/mrt/status cannot be put on the grid"):
        q.decode("/mrt/at", ["bar", "/mrt/status"])


# -- the client sends exactly what the daemon decodes ------------------------------------------


class _Responder:
    """A loopback UDP socket standing in for the daemon: it decodes each request with the vocabulary
    and answers what a client waits for, so every client method can run to its end."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.decoded: list[q.Request] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65536)
            except OSError:
                continue
            for _due, address, args in timed_messages(data):
                request = q.decode(address, args)
                self.decoded.append(request)
                answer = self._answer(request, sender)
                if answer is not None:
                    self.sock.sendto(encode(*answer.message()), sender)

    @staticmethod
    def _answer(request: q.Request, sender: tuple[str, int]) -> r.Response | None:
        if isinstance(request, q.Hello):
            return r.Hello(1) if request.cookie is None else r.HelloOk()
        if isinstance(request, q.Subscribe):  # Unsubscribe too
            kind = r.Unsubscribed if isinstance(request, q.Unsubscribe) else r.Subscribed
            return kind(sender[1] if request.port is None else request.port)
        answers = {
            q.Status: lambda: r.Status({"engine": "stand-in"}),
            q.Ping: lambda: r.Pong(request.values),  # type: ignore[attr-defined]
            q.RecordStart: lambda: r.RecordStarted("take.wav"),
            q.RecordStop: lambda: r.RecordStopped(""),
            q.Prefill: lambda: r.Prefilling("silence"),
            q.PrefillTokens: lambda: r.Prefilling("intro.npy"),
            q.TokensSave: lambda: r.TokensSaving("branch.npy"),
            q.Model: lambda: r.Loading("mrt2_small"),
            q.BufferSize: lambda: r.BufferSize(8192, "balanced", 3, "now"),
            q.StateSave: lambda: r.StateBank("save", 3),
            q.StateLoad: lambda: r.StateBank("load", 16),
            q.StateFactory: lambda: r.StateBank("factory", 0),
        }
        made = answers.get(type(request))
        return None if made is None else made()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class _Recording(Client):
    """A client that notes every typed request it builds, in the order it sends them."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port, timeout=2.0)
        self.built: list[q.Request] = []

    def send_request(self, request: q.Request, *, at: float | None = None) -> None:
        self.built.append(request)
        super().send_request(request, at=at)

    def ask(self, request: q.Request, reply: type[r.Response], timeout: float | None = None) -> Any:
        self.built.append(request)
        return super().ask(request, reply, timeout)

    def fenced_request(self, request: q.Request, timeout: float | None = None) -> list:
        self.built.append(request)
        return super().fenced_request(request, timeout)


# Every public method of the client that sends, with arguments (float32-exact numbers).
CLIENT_CALLS: list[tuple[str, tuple, dict]] = [
    ("prompt", ("a", "warm pads", 0.5), {}), ("prompt", (2, "cold rain"), {}), ("prompt_clear", ("b",), {}),
    ("mix", ({"a": 1.0, "b": 0.5}, "4 beats", "equal-power"), {}), ("mix", ({"a": 1, 3: 0.5}, 2), {}),
    ("mix", ({"a": 1.0},), {}), ("weight", ("a", 0.75), {}), ("axis", ("warmth", 0.5), {}), ("axis", (2, -1.0), {}),
    ("xy", (0.25, 0.5), {}), ("style_tokens", ([1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, -1],), {}),
    ("style_tokens", (None,), {}), ("style_embedding", ([0.5] * 768,), {}), ("style_embedding", (None,), {}),
    ("temperature", (1.25,), {}), ("topk", (40,), {}), ("seed", (3,), {}), ("cfg_style", (2.0,), {}),
    ("cfg_notes", (3.0,), {}), ("cfg_drums", (1.0,), {}), ("note_on", (60, 90), {}), ("note_on", (61,), {}),
    ("note_off", (60,), {}), ("notes_clear", (), {}), ("unmask", (4,), {}), ("onset_mode", (1,), {}),
    ("midigate", (False,), {}), ("midigate", (), {}), ("drums", (-1,), {}), ("volume", (-3.0,), {}),
    ("mute", (), {}), ("bypass", (False,), {}), ("listen_notes", (), {}), ("listen_tempo", (False,), {}),
    ("listen_style", (0.5,), {}), ("reset", (), {}), ("reset", (), {"at": 2e9}),
    ("stop", (), {}), ("stop", (30.0,), {}), ("start", (1.5,), {}),
    ("scene_load", ("song",), {}), ("cue", ("verse", "2 bars"), {}), ("cue", (3,), {}), ("cue_next", (), {}),
    ("tempo", (110.0, 4), {}), ("tempo", (90,), {}), ("meter", (3,), {}),
    ("on_grid", ("bar", "/mrt/temperature", 1.5), {}), ("on_grid", ("2 beats", "/noteon", 62), {}),
    ("learn", ("temperature",), {}), ("learn", ("warmth", "axis"), {}), ("event", (), {"note": 2, "velocity": 0.5}),
    ("status", (), {}), ("ping", (), {}), ("hello", (), {}), ("sync", (), {}), ("state", (), {}), ("subscribe", (), {}),
    ("subscribe", (9000,), {}), ("unsubscribe", (), {}), ("record_start", ("take",), {}), ("record_start", (), {}),
    ("record_stop", (), {}), ("prefill", ("intro.wav",), {}), ("prefill", (), {}), ("prefill_tokens", ("intro.npy",), {}), ("save_tokens", ("branch",), {}), ("model", ("mrt2_small",), {}),
    ("state_save", (3,), {}), ("state_load", (16,), {}), ("state_factory", (), {}),
    ("buffersize", (8192,), {}), ("solo", (), {}), ("solo", (False,), {}),
]

# Methods that are the transport, not a request of their own.
TRANSPORT = {"send", "send_request", "send_bundle", "receive", "request", "ask", "fenced", "fenced_request",
             "send_checked", "close", "needs_proof"}  # needs_proof: whether to say hello first, sends nothing


def test_every_client_method_is_called_here():
    methods = {name for name, _ in inspect.getmembers(Client, inspect.isfunction) if not name.startswith("_")}
    assert methods - TRANSPORT == {name for name, _, _ in CLIENT_CALLS}
    commands = {name for name, _ in inspect.getmembers(Commands, inspect.isfunction) if not name.startswith("_")}
    assert commands - TRANSPORT <= methods


@pytest.mark.parametrize("method, args, kwargs", CLIENT_CALLS, ids=lambda v: v if isinstance(v, str) else None)
def test_the_client_sends_exactly_the_request_the_daemon_decodes(method, args, kwargs):
    responder = _Responder()
    try:
        with _Recording(responder.port) as client:
            getattr(client, method)(*args, **kwargs)
            # Replies are waited for; a command is not: a fence (its pong) says it has arrived.
            client.ask(q.Ping(("end",)), r.Pong)
    finally:
        responder.close()
    assert client.built[-1] == q.Ping(("end",)) and responder.decoded[-1] == q.Ping(("end",))
    assert responder.decoded == client.built, f"{method}{args}: sent {client.built}, decoded {responder.decoded}"
    assert all(type(d) in BY_REQUEST for d in responder.decoded), "every request is a row of the table"


# -- one refusal, one message -------------------------------------------------------------------

MALFORMED = [
    ("/mrt/temperature", ["hot"]), ("/mrt/temperature", [9.0]), ("/mrt/topk", [1.5]),
    ("/mrt/prompt", ["a"]), ("/mrt/prompt", ["a", ""]), ("/mrt/prompt", ["a", "x" * 1001]),
    ("/mrt/prompt", ["a", "pads", float("nan")]), ("/mrt/mix", ["a", 1.0, "soon"]), ("/mrt/mix", ["a", 1.0, 2.0, "wobbly"]),
    ("/mrt/note/on", [60, 128]), ("/noteon", [-1]), ("/mrt/axis", [9, 0.0]), ("/mrt/style/tokens", [1, 2]),
    ("/mrt/cue", ["verse", "someday"]), ("/mrt/at", ["bar"]), ("/mrt/at", ["bar", "/mrt/sync"]),
    ("/mrt/subscribe", [70000]), ("/mrt/model", ["../etc"]), ("/mrt/status", [1]), ("/mrt/tempo", [120, 0]),
    ("/prompt", [6, "pads"]), ("/prompt", [0, 1.5]), ("/prompt_clear", ["a"]),
]


class _NoHost:
    """A malformed request is refused before the handler asks the host anything."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the host was asked for {name}")


@pytest.mark.parametrize("address, args", MALFORMED, ids=lambda v: v if isinstance(v, str) else None)
def test_a_malformed_request_is_refused_with_the_servers_words(address, args):
    with pytest.raises(ValueError) as refused:
        q.decode(address, args)
    server = OscServer(_NoHost())  # type: ignore[arg-type]
    sent: list[bytes] = []
    server.dispatcher.dispatch(address, args, None, ("127.0.0.1", 9), lambda packets, _about: sent.extend(packets))
    ((_due, got, got_args),) = [m for packet in sent for m in timed_messages(packet)]
    assert r.decode(got, got_args) == r.Error(address, str(refused.value))


@pytest.mark.parametrize("address, args", [(a, v) for a, v in MALFORMED if a != "/mrt/subscribe" and all(
    not isinstance(x, float) or x == x for x in v) and all(not isinstance(x, str) or len(x) <= 1000 for x in v)],
    ids=lambda v: v if isinstance(v, str) else None)
def test_the_web_page_decodes_through_the_same_classes(address, args):
    """JSON from the page goes through the same rows: the same refusal, word for word (what the
    page's own checks refuse first, over-long texts and the subscription, is left out)."""
    import json

    from mrtd.inputs.web import protocol

    with pytest.raises(ValueError) as refused:
        q.decode(address, args)
    (reply,) = protocol.dispatch(_NoHost(), json.dumps({"address": address, "args": args, "id": 5}), ("page", 0))  # type: ignore[arg-type]
    assert reply == {"address": r.Error.address, "args": list(r.Error(address, str(refused.value)).args()), "id": 5}
