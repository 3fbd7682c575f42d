"""The OSC probe's transcript, over a real loopback UDP socket pair (no daemon): an echo peer
answers each message, and the transcript holds the conversation in the order it happened."""

from __future__ import annotations

import socket
import threading

import pytest
from pythonosc.osc_message import OscMessage

from osc_probe import OscProbe, Transcript, bundle, message


@pytest.fixture
def echo():
    """A UDP peer on loopback that answers every message `m` with `/echo m args...`, then `/done m`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not OscMessage.dgram_is_message(data):
                continue  # a bundle or garbage: no answer
            msg = OscMessage(data)
            sock.sendto(message("/echo", msg.address, *msg.params), peer)
            sock.sendto(message("/done", msg.address), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(2)
    sock.close()


def test_sent_and_received_entries_are_in_the_order_they_happened(echo):
    ticks = iter(range(100))
    probe = OscProbe(echo, clock=lambda: float(next(ticks)))  # an injected clock: each entry one tick
    try:
        t = probe.transcript
        assert probe.request("/a", "/done", 1) == ["/a"]
        assert probe.request("/b", "/done", "two", 2.5) == ["/b"]
        conversation = [(e.direction, e.address, e.args) for e in t]
        assert conversation == [
            ("sent", "/a", [1]),
            ("received", "/echo", ["/a", 1]),
            ("received", "/done", ["/a"]),
            ("sent", "/b", ["two", 2.5]),
            ("received", "/echo", ["/b", "two", 2.5]),
            ("received", "/done", ["/b"]),
        ], str(t)
        assert [e.time for e in t] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # tick 0 is the transcript's origin
        assert [e.index for e in t] == list(range(6))
        assert t.count("/done") == 2 and t.args_of("/echo") == [["/a", 1], ["/b", "two", 2.5]]
        assert t.first("/done", ["/b"]).index == 5 and t.first("/done", ["/c"]) is None
        assert [e.address for e in t.sent()] == ["/a", "/b"]
        assert t.first("/echo").line().endswith("<- /echo '/a' 1")
        assert str(t).splitlines() == [
            "    1.000s -> /a 1",
            "    2.000s <- /echo '/a' 1",
            "    3.000s <- /done '/a'",
            "    4.000s -> /b 'two' 2.5",
            "    5.000s <- /echo '/b' 'two' 2.5",
            "    6.000s <- /done '/b'",
        ]
    finally:
        probe.close()


def test_since_a_mark_leaves_out_what_came_before_and_after_an_entry_leaves_it_out(echo):
    probe = OscProbe(echo)
    try:
        t = probe.transcript
        probe.request("/a", "/done")
        mark = t.mark()
        probe.send("/b", 7)
        done = t.wait_for_first("/done", ["/b"], since=mark)
        later = t.since(mark)
        assert [(e.direction, e.address) for e in later] == [("sent", "/b"), ("received", "/echo"), ("received", "/done")]
        assert later.messages() == [("/echo", ["/b", 7]), ("/done", ["/b"])]
        assert later.count("/done") == 1 and t.count("/done") == 2
        assert later.first("/echo").args == ["/b", 7]
        assert list(t.after(done)) == [] and len(t.since(0)) == 6
        assert [e.address for e in later.after(later.first("/echo"))] == ["/done"]
    finally:
        probe.close()


def test_bundles_and_garbage_are_recorded_as_sent(echo):
    probe = OscProbe(echo)
    try:
        probe.send_raw(bundle(None, message("/x", 1), message("/y", "z")))
        probe.send_raw(b"\x00garbage")
        assert [(e.address, e.args) for e in probe.transcript.sent()] == [
            ("#bundle", [("/x", [1]), ("/y", ["z"])]),
            ("#raw", [b"\x00garbage"]),
        ]
        assert "#bundle @now [/x 1; /y 'z']" in str(probe.transcript)
    finally:
        probe.close()


def test_wait_for_wakes_on_a_new_entry_and_a_timeout_shows_the_conversation():
    t = Transcript(clock=lambda: 0.0)
    t.record("sent", "/ping", [1])
    arrived = threading.Timer(0.05, lambda: t.record("received", "/pong", [1]))
    arrived.start()
    assert t.wait_for_first("/pong", [1], timeout=5).index == 1
    arrived.join()
    mark = t.mark()
    with pytest.raises(AssertionError) as failed:
        t.wait_for(lambda seen: seen.count("/pong") >= 1, timeout=0.05, what="a second pong", since=mark)
    assert "no a second pong within 0.05s" in str(failed.value)
    assert "(nothing sent or received)" in str(failed.value)  # only what came since the mark
    t.record("received", "/pong", [2])
    assert t.wait_for(lambda seen: seen.first("/pong"), since=mark).args == [2]
    with pytest.raises(AssertionError, match="-> /ping 1"):
        t.wait_for_first("/nothing", timeout=0.01)


def test_osc_floats_are_shown_as_32_bit_numbers():
    t = Transcript(clock=lambda: 0.0)
    t.record("received", "/mrt/temperature", [1.100000023841858, 3, "x" * 100])
    assert str(t) == f"    0.000s <- /mrt/temperature 1.1 3 '{'x' * 56}...'"


def test_a_long_transcript_shows_its_last_lines():
    t = Transcript(clock=lambda: 0.0)
    for i in range(100):
        t.record("received", "/mrt/beat", [i])
    lines = str(t).splitlines()
    assert lines[0] == "  ... 40 earlier entries" and lines[-1].endswith("<- /mrt/beat 99") and len(lines) == 61
