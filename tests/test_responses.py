"""One reply vocabulary: what the daemon answers decodes to the typed response the clients use."""

from __future__ import annotations

import pytest

from conftest import probed_daemon
from mrtd.vocabulary import replies as r

EXAMPLES = [
    r.Error("/mrt/temperature", "temperature wants a number, got text"),
    r.Pong(("fence-1", 2)),
    r.Status({"engine": "synth", "frames": 12, "step_ms": 1.25}),
    r.Hello(123456789),
    r.HelloOk(),
    r.Synced(17),
    r.Subscribed(9000),
    r.Unsubscribed(9000),
    r.Learning("param", "temperature"),
    r.Prefilling("silence"),
    r.Loading("mrt2_small"),
    r.RecordStarted("take.wav"),
    r.RecordStopped(""),
    r.Clamped("volume", -6.0, "safety limit"),
    r.PromptsPart(1, 2, (("a", "warm pads"), ("b", "bright plucks"))),
    r.Done("/mrt/temperature"),
    r.Learned("param", "temperature", "cc=7 channel=1"),
    r.PageStatus('{"frames": 12}'),
    r.PageScene('{"prompts": []}'),
    r.BufferSize(4096, "85.3", 85, "at start: --latency 85.3"),
    r.StateBank("load", 3),
]


def test_every_response_survives_its_own_wire_form():
    assert {type(e) for e in EXAMPLES} == set(r.RESPONSES.values()), "an example for every response"
    for example in EXAMPLES:
        assert r.decode(*example.message()) == example


@pytest.mark.parametrize("address, args", [
    ("/mrt/hello", ["not a cookie"]),
    ("/mrt/subscribed", []),
    ("/mrt/status", ["odd"]),
    ("/mrt/prompts/part", [1]),
    ("/mrt/temperature", [1.0]),  # a state push, not a reply
])
def test_what_does_not_fit_is_not_taken_for_a_reply(address, args):
    assert r.decode(address, args) is None


def test_everything_the_daemon_answers_is_in_the_vocabulary(tmp_path):
    requests = [
        ("/mrt/ping", ["token"]),
        ("/mrt/status", []),
        ("/mrt/hello", []),
        ("/mrt/subscribe", []),
        ("/mrt/unsubscribe", []),
        ("/mrt/learn", ["temperature"]),
        ("/mrt/record/start", ["take"]),
        ("/mrt/record/stop", []),
        ("/mrt/temperature", ["hot"]),
        ("/mrt/nowhere", []),
    ]
    with probed_daemon(tmp_path, midi=False) as (daemon, _engine, probe):
        answers = [probe.exchange(address, *args) for address, args in requests]
        status = daemon.status()
    for (address, _args), answered in zip(requests, answers):
        assert answered, f"{address} was answered"
        for reply_address, reply_args in answered:
            assert r.decode(reply_address, reply_args) is not None, f"{address} -> {reply_address} {reply_args}"
    decoded = r.decode(*answers[1][0])
    assert isinstance(decoded, r.Status) and decoded.values["engine"] == status["engine"]
    assert r.decode(*answers[0][0]) == r.Pong(("token",))
    assert r.decode(*answers[8][0]) == r.Error("/mrt/temperature", "temperature wants a number, got text")
