"""What a careless operator or a stranger sends over OSC: refused with a reason, bounded, never amplified.

Real loopback sockets against a running daemon; bounds are asserted as counts and bytes.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage

from conftest import control_state, probed_daemon, wait_for
from mrtd.control import commands as c
from mrtd.control.state import MAX_PENDING, MAX_PROMPTS, MOVED_PER_FRAME, ScheduleFull
from mrtd.feedback.push import LEASE_S, MAX_PER_HOST, Pusher
from mrtd.inputs.osc import admission, transport
from mrtd.inputs.osc.admission import RATE_BYTES_PER_S, UNPROVEN_RATIO, ReplyGuard
from mrtd.inputs.osc.dispatch import Dispatcher
from mrtd.inputs.osc.server import OscConfig
from osc_probe import OscProbe, bundle, message
from style_fakes import builtin_control

SCENE = """
name: three named
prompts:
  alpha: {text: "slow warm strings", weight: 1}
  beta: "bright fast techno"
  gamma: "dusty hip hop drums"
cues:
  - {name: start, mix: {alpha: 1}}
"""


@pytest.fixture
def rig(tmp_path):
    with probed_daemon(tmp_path) as rig:
        yield rig


def frames(daemon, count: int = 2) -> None:
    target = daemon.generator.frames + count
    wait_for(lambda: daemon.generator.frames >= target, 5, f"{count} frames")


def error_for(probe: OscProbe, address: str, *args) -> str:
    start = probe.transcript.mark()
    probe.send(address, *args)
    reply = probe.transcript.wait_for_first("/mrt/error", since=start).args
    assert reply[0] == address, probe.transcript.since(start)
    return reply[1]


def mix_of(daemon) -> dict:
    args = daemon.snapshot["/mrt/mix"]
    return dict(zip(args[::2], args[1::2]))


def with_prompts(daemon, probe, *names: str) -> None:
    for name in names:
        probe.send("/mrt/prompt", name, f"{name} music", 0.0)
    wait_for(lambda: set(names) <= set(mix_of(daemon)), 5, "the prompts")


# -- bad messages that used to change things silently -------------------------------------


def test_a_mix_of_unknown_names_is_refused_and_the_mix_stays(rig):
    daemon, engine, probe = rig
    probe.send("/mrt/prompt", "dark", "dark drone", 1.0)
    wait_for(lambda: mix_of(daemon).get("dark") == 1.0, 5, "the prompt")
    before = control_state(daemon)
    assert "no prompt 'nonexistent'" in error_for(probe, "/mrt/mix", "nonexistent", 1.0)
    frames(daemon, 3)
    assert control_state(daemon) == before


def test_weights_for_missing_prompts_and_slots_get_an_error(rig):
    daemon, engine, probe = rig
    with_prompts(daemon, probe, "dark")
    before = control_state(daemon)
    assert "no prompt 'nothere'" in error_for(probe, "/mrt/weight", "nothere", 0.5)
    assert "no prompt in slot 9" in error_for(probe, "/mrt/weight", 9, 0.3)
    frames(daemon, 2)
    assert control_state(daemon) == before


def test_an_axis_without_a_pca_file_gets_an_error(rig):
    daemon, engine, probe = rig
    assert "no PCA axis 0" in error_for(probe, "/mrt/axis", 0, 1.5)
    assert "no axis 'warmth'" in error_for(probe, "/mrt/axis", "warmth", 1.0)


def test_mix_by_slot_numbers_as_the_max_patch_and_pd_panel_send_it(rig):
    daemon, engine, probe = rig
    probe.send("/mrt/prompt", 1, "slow strings")
    probe.send("/mrt/prompt", 2, "fast techno")
    wait_for(lambda: {"1", "2"} <= set(mix_of(daemon)), 5, "slots 1 and 2")
    probe.send("/mrt/mix", 1, 0.5, 2, 0.5)
    wait_for(lambda: mix_of(daemon) == {"1": 0.5, "2": 0.5}, 5, "the mix by slot numbers")
    probe.send("/mrt/mix", 1, 1.0, 2, 0.0, 0.0)  # slot pairs, then fade seconds
    wait_for(lambda: mix_of(daemon) == {"1": 1.0, "2": 0.0}, 5, "the mix with a fade")


def test_touchosc_weight_slots_move_a_scene_s_named_prompts_with_feedback(tmp_path):
    scene = tmp_path / "named.yaml"
    scene.write_text(SCENE)
    with probed_daemon(tmp_path, scene=str(scene), scene_dir=str(tmp_path)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.scene == "three named", 5, "the scene")
        listener = OscProbe(daemon.osc.port)
        try:
            listener.request("/mrt/subscribe", "/mrt/subscribed")
            start = listener.transcript.mark()
            listener.send("/mrt/weight", 2, 0.6)  # TouchOSC fader 2: the scene's second prompt
            wait_for(lambda: mix_of(daemon).get("beta") == pytest.approx(0.6), 5, "beta at 0.6")
            pushed = listener.transcript.wait_for_first("/mrt/mix", since=start).args
            assert dict(zip(pushed[::2], pushed[1::2]))["beta"] == pytest.approx(0.6)
            assert "slot 4" in error_for(listener, "/mrt/weight", 4, 0.5)
        finally:
            listener.close()


def test_values_clamped_by_safety_limits_are_reported_to_the_sender(tmp_path):
    scene = Path(__file__).parent.parent / "scenes" / "therapy-two-buttons.yaml"
    with probed_daemon(tmp_path, scene=str(scene), scene_dir=str(tmp_path)) as (daemon, engine, probe):
        wait_for(lambda: daemon.control.limits is not None, 5, "the scene's limits")
        assert probe.request("/mrt/volume", "/mrt/clamped", 6.0) == ["volume", -12.0, "safety limit"]
        assert probe.request("/mrt/temperature", "/mrt/clamped", 2.5) == ["temperature", pytest.approx(1.1), "safety limit"]
        wait_for(lambda: daemon.snapshot["/mrt/volume"] == [-12.0], 5, "the clamped volume")


# -- bounded schedule, prompts and replies ---------------------------------------------------


def test_the_schedule_is_bounded_in_count_and_moved_in_bounded_steps():
    state = builtin_control()
    state.frame_of = lambda wall: 10_000.0  # everything is due far in the future
    due = time.time() + 60
    for _ in range(MAX_PENDING):
        state.admit(due)
        state.submit(c.SetParam("temperature", 0.5), due)
    with pytest.raises(ScheduleFull, match="full"):
        state.admit(due)
    state.begin_frame(1)
    assert len(state._schedule) == MOVED_PER_FRAME  # one frame moves a bounded number, not all
    state.begin_frame(2)
    assert len(state._schedule) == 2 * MOVED_PER_FRAME


def test_a_timetag_beyond_the_horizon_is_refused(rig):
    daemon, engine, probe = rig
    start = probe.transcript.mark()
    probe.send_raw(bundle(time.time() + 3600, message("/mrt/temperature", 0.5)))
    reply = probe.transcript.wait_for_first("/mrt/error", since=start).args
    assert reply[0] == "/mrt/temperature" and "schedule reaches" in reply[1]
    assert daemon.control.pending() == 0


def test_prompts_are_bounded_in_number(rig):
    daemon, engine, probe = rig
    start = probe.transcript.mark()
    for i in range(MAX_PROMPTS + 1):
        probe.send("/mrt/prompt", f"p{i}", f"prompt number {i}", 0.0)
    reply = probe.transcript.wait_for_first("/mrt/error", since=start).args
    assert reply == ["/mrt/prompt", f"{MAX_PROMPTS} prompts already; clear one first"]
    wait_for(lambda: len(daemon.control.prompt_texts) == MAX_PROMPTS, 10, "the bounded prompts")
    frames(daemon, 3)
    assert len(daemon.control.prompt_texts) == MAX_PROMPTS


def test_sync_sends_long_prompt_lists_in_parts_that_each_fit(rig):
    daemon, engine, probe = rig
    names = [f"p{i}" for i in range(20)]
    for name in names:
        probe.send("/mrt/prompt", name, name + " " + "x" * 900, 0.0)
    wait_for(lambda: len(daemon.control.prompt_texts) == 20, 10, "20 long prompts")
    frames(daemon, 2)
    start = probe.transcript.mark()
    probe.send("/mrt/sync")
    count = probe.transcript.wait_for_first("/mrt/synced", since=start).args[0]
    replies = probe.transcript.since(start)
    assert len(replies.received()) == count + 1, f"nothing left out\n{replies}"
    parts = replies.args_of("/mrt/prompts/part")
    assert len(parts) >= 3 and all(p[1] == len(parts) for p in parts), replies
    assert sorted(n for p in parts for n in p[2::2]) == sorted(names)
    assert replies.first("/mrt/mix") is not None, replies


def whole_prompt_lists(received: list) -> list[dict[str, str]]:
    """Every prompt list that arrived whole as `/mrt/prompts/part` 1..total in a row: {name: text}."""
    lists, run = [], []
    for address, args in received:
        if address != "/mrt/prompts/part":
            continue
        index, total, pairs = args[0], args[1], args[2:]
        if index == 1:
            run = [pairs]
        elif run and index == len(run) + 1:
            run.append(pairs)
        else:
            run = []  # a part lost or out of order: this list is not whole
        if run and len(run) == total:
            flat = [x for part in run for x in part]
            lists.append(dict(zip(flat[::2], flat[1::2])))
            run = []
    return lists


def test_a_subscriber_gets_a_prompt_list_too_long_for_a_datagram_in_parts_and_stays(rig):
    """64 prompts of 64-character names and 1,000-character texts are ~68 kB as one /mrt/prompts,
    over UDP's 65,507 bytes: that push used to fail and drop every subscriber."""
    daemon, engine, probe = rig
    listener = OscProbe(daemon.osc.port)
    try:
        listener.request("/mrt/subscribe", "/mrt/subscribed")
        names = [f"{i:02d}".ljust(64, "n") for i in range(MAX_PROMPTS)]
        for i, name in enumerate(names):
            probe.send("/mrt/prompt", name, f"{i:02d} " + "t" * 997, 0.0)
        wait_for(lambda: set(mix_of(daemon)) == set(names), 20, "64 long prompts, encoded")
        guard = daemon.osc.guard
        # The state is settled; a whole list overdraws this address's bucket, so wait until it
        # has refilled (a push over budget is skipped, not queued), then change one prompt.
        wait_for(lambda: not guard.exhausted("127.0.0.1", listener.port), 5, "the bucket to refill")
        heard = listener.transcript
        start = heard.mark()
        probe.send("/mrt/prompt", names[0], "a new text " + "u" * 989, 0.0)
        heard.wait_for(lambda seen: any(l.get(names[0], "").startswith("a new text") for l in whole_prompt_lists(seen.messages())),
                       5, "the changed list, every part", since=start)
        [pushed] = [l for l in whole_prompt_lists(heard.since(start).messages()) if l[names[0]].startswith("a new text")]
        assert sorted(pushed) == names and len(pushed[names[1]]) == 1000
        assert max(len(message(a, *args)) for a, args in heard.since(start).messages()) < 65507
        assert ("127.0.0.1", listener.port) in daemon.pusher.subscribers()
        assert daemon.pusher.dropped_subscribers == 0
        wait_for(lambda: not guard.exhausted("127.0.0.1", listener.port), 5, "the bucket to refill")
        start = heard.mark()
        probe.send("/mrt/temperature", 0.5)
        heard.wait_for_first("/mrt/temperature", [0.5], since=start)  # a later change still arrives
    finally:
        listener.close()


def test_a_push_too_large_for_any_datagram_is_counted_and_the_subscriber_kept():
    pusher = Pusher()
    pusher.start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    try:
        pusher.subscribe("127.0.0.1", listener.getsockname()[1])
        pusher.publish({"/mrt/mix": ["n" * 70_000, 1.0], "/mrt/temperature": [0.5]})  # no part splits a mix
        assert OscMessage(listener.recv(65536)).params == [0.5], "the message after it still goes"
        assert pusher.too_large == 1 and pusher.dropped_subscribers == 0
        assert pusher.subscribers() == [("127.0.0.1", listener.getsockname()[1])]
    finally:
        pusher.stop()
        listener.close()


def test_a_crossfade_pushes_the_mix_not_the_prompt_texts(rig):
    daemon, engine, probe = rig
    with_prompts(daemon, probe, "a", "b")
    listener = OscProbe(daemon.osc.port)
    try:
        listener.request("/mrt/subscribe", "/mrt/subscribed")
        frames(daemon, 2)
        start = listener.transcript.mark()
        probe.send("/mrt/mix", "a", 1.0, "b", 0.0, 0.4)  # ten frames of crossfade
        wait_for(lambda: mix_of(daemon) == {"a": 1.0, "b": 0.0}, 5, "the fade to land")
        frames(daemon, 2)
        pushed = listener.transcript.since(start)
        assert pushed.count("/mrt/mix") >= 5 and pushed.count("/mrt/prompts") == 0, pushed
    finally:
        listener.close()


# -- amplification ---------------------------------------------------------------------------


def test_an_unproven_address_gets_at_most_the_ratio_back_until_it_proves_itself(tmp_path):
    osc = OscConfig(port=0, trust_loopback=False)
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        received = []
        probe.sock.settimeout(None)
        sent = 0
        for _ in range(50):  # what a spoofed source would draw toward its victim
            packet = message("/mrt/sync")
            probe.send_raw(packet)
            sent += len(packet)
        frames(daemon, 5)
        received = sum(len(message(a, *args)) for a, args in probe.transcript.messages())
        assert received <= UNPROVEN_RATIO * sent, probe.transcript
        assert probe.transcript.count("/mrt/synced") == 0, f"a full sync needs proof\n{probe.transcript}"
        cookie = probe.request("/mrt/hello", "/mrt/hello", 0)[0]  # 20 bytes asked, 20 answered
        probe.request("/mrt/hello", "/mrt/hello/ok", cookie)
        start = probe.transcript.mark()
        probe.send("/mrt/sync")
        count = probe.transcript.wait_for_first("/mrt/synced", since=start).args[0]
        assert count > 10
        assert daemon.status()["osc_replies_held"] > 0


def test_a_bundle_earns_reply_credit_once_not_once_per_message(tmp_path):
    """Five pings and a sync in one bundle used to earn credit six times, enough to draw the
    whole sync back to an address that never proved itself."""
    osc = OscConfig(port=0, trust_loopback=False)  # loopback treated as another machine would be
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        for name in ("a", "b"):  # a sync of ~2 kB: more than 4 x the bundle, less than 6 x 4 x it
            probe.send("/mrt/prompt", name, name + " " + "x" * 600, 0.0)
        wait_for(lambda: set(mix_of(daemon)) == {"a", "b"}, 5, "the prompts")
        packet = bundle(None, *[message("/mrt/ping", i) for i in range(5)], message("/mrt/sync"))
        answered = probe.exchange_raw(packet)  # prompts draw no reply: no credit was banked before this
        assert sum(len(message(a, *args)) for a, args in answered) <= UNPROVEN_RATIO * len(packet)
        assert answered == [("/mrt/pong", [i]) for i in range(5)], "the sync, and the error longer than what is left, held"


def test_only_a_proven_address_may_subscribe_and_what_it_draws_is_bounded_per_address(tmp_path):
    """A spoofed 20-byte /mrt/subscribe once drew 3.2 MB of pushes toward its victim over the lease:
    a subscription needs a proven address, and pushes to one are bounded by its bucket."""
    osc = OscConfig(port=0, trust_loopback=False)  # loopback treated as another machine would be
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        assert not daemon.osc.guard.proven("127.0.0.1")
        assert probe.exchange("/mrt/subscribe") == [], "refused, and the refusal is larger than the request"
        assert daemon.pusher.subscribers() == []
        cookie = probe.request("/mrt/hello", "/mrt/hello", 0)[0]
        probe.request("/mrt/hello", "/mrt/hello/ok", cookie)
        assert probe.exchange("/mrt/subscribe") == [("/mrt/subscribed", [probe.port])]
        start = probe.transcript.mark()
        probe.send("/mrt/temperature", 0.5)
        probe.transcript.wait_for_first("/mrt/temperature", [0.5], since=start)
    now = [0.0]
    guard = ReplyGuard(clock=lambda: now[0], trust_loopback=False)
    push = 10_000
    assert not any(guard.allow_push("192.0.2.7", push) for _ in range(100)), "nothing to an unproven address"
    guard.prove("192.0.2.7")
    drawn = sum(push for _ in range(100) if guard.allow_push("192.0.2.7", push))
    assert drawn <= guard.rate + push, "a second's pushes to a proven address: its bucket, overdrawn once"
    now[0] += 1.0
    again = sum(push for _ in range(100) if guard.allow_push("192.0.2.7", push))
    assert 0 < again <= guard.rate + push, "and the next second's too"


def test_a_cookie_echoed_as_a_float_proves_the_address_as_pd_and_max_send_it(tmp_path):
    """Pd and Max numbers are 32-bit floats: the cookie fits one exactly."""
    osc = OscConfig(port=0, trust_loopback=False)
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        [cookie] = probe.request("/mrt/hello", "/mrt/hello", 0.0)  # Pd sends a float
        assert cookie == float(np.float32(cookie)), "exact in a 32-bit float"
        assert probe.request("/mrt/hello", "/mrt/hello/ok", float(cookie)) == []
        assert daemon.osc.guard.proven("127.0.0.1")


def test_guessing_a_cookie_blind_is_bounded():
    from mrtd.inputs.osc.admission import WRONG_COOKIE_S, WRONG_COOKIES

    now = [0.0]
    guard = ReplyGuard(clock=lambda: now[0], trust_loopback=False)
    victim, right = "192.0.2.9", guard.cookie("192.0.2.9")
    for guess in range(WRONG_COOKIES):
        with pytest.raises(ValueError, match="wrong cookie"):
            guard.check_cookie(victim, right ^ (guess + 1))
    with pytest.raises(ValueError, match="too many wrong cookies"):
        guard.check_cookie(victim, right)  # even the right one, until the window has passed
    assert not guard.proven(victim)
    now[0] = WRONG_COOKIE_S + 1
    guard.check_cookie(victim, right)
    assert guard.proven(victim)


def test_any_one_address_draws_a_bounded_rate():
    now = [0.0]
    guard = ReplyGuard(clock=lambda: now[0], trust_loopback=False)
    guard.prove("192.0.2.7")
    sent = 0
    for step in range(1000):  # ten seconds of asking for 1400-byte replies every 10 ms
        now[0] = step * 0.01
        guard.heard("192.0.2.7", 16)
        sent += 1400 * guard.allow_reply("192.0.2.7", 1400)
    assert sent <= RATE_BYTES_PER_S * (10 + 1) + 1400  # ten seconds, one second of burst, one overdraw
    spoofed = 0
    for step in range(1000):  # never proven: bounded by the ratio too
        now[0] = 100 + step * 0.01
        guard.heard("198.51.100.9", 44)
        spoofed += 1400 * guard.allow_reply("198.51.100.9", 1400)
    assert spoofed <= UNPROVEN_RATIO * 44 * 1000


def test_subscriptions_lapse_unless_renewed_and_are_bounded_per_host():
    now = [0.0]
    pusher = Pusher(clock=lambda: now[0])
    pusher.start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    try:
        pusher.subscribe("127.0.0.1", listener.getsockname()[1])
        for port in range(1, MAX_PER_HOST):
            pusher.subscribe("127.0.0.1", 20000 + port)
        with pytest.raises(ValueError, match="subscriptions already"):
            pusher.subscribe("127.0.0.1", 30000)
        now[0] = LEASE_S / 2
        pusher.heard_from("127.0.0.1")  # renewed from that address
        now[0] = LEASE_S * 1.2
        pusher.publish({"/mrt/temperature": [0.5]})
        wait_for(lambda: pusher.sent >= 1, 5, "a push within the lease")
        now[0] = LEASE_S * 2.0  # no renewal since LEASE_S / 2
        pusher.publish({"/mrt/temperature": [0.6]})
        wait_for(lambda: pusher.subscribers() == [], 5, "the lapsed subscriptions to go")
    finally:
        pusher.stop()
        listener.close()


# -- allow-list ------------------------------------------------------------------------------


def test_loopback_is_allowed_beside_an_allow_list_and_refusals_are_counted(tmp_path):
    with probed_daemon(tmp_path, osc=OscConfig(port=0, allow=["10.0.0.0/8"])) as (daemon, engine, probe):
        assert probe.request("/mrt/ping", "/mrt/pong", 3) == [3]  # `mrtd send` from 127.0.0.1 works
    with probed_daemon(tmp_path, osc=OscConfig(port=0, allow=["10.0.0.0/8"], allow_loopback=False)) as (daemon, engine, probe):
        probe.send("/mrt/ping")
        wait_for(lambda: daemon.status()["osc_refused"] == 1, 5, "the refusal in the status")


# -- load ------------------------------------------------------------------------------------


def test_packets_over_the_parse_rate_are_dropped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(admission, "PARSE_PER_SECOND", 20)
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        frames(daemon, 2)
        for value in range(300):
            probe.send("/mrt/topk", 1 + value)
        counters = daemon.osc.counters
        wait_for(lambda: counters.packets + counters.dropped == 300, 5, "every packet parsed or dropped")
        assert counters.dropped >= 300 - 20 * 5 - 20
        assert daemon.status()["osc_dropped"] == counters.dropped
        assert daemon.status()["underruns"] == 0


class _EveryAddressMapped:
    """A host whose scene maps every address: the messages cost parsing, then nothing."""

    def mapped(self, address, args, due):
        return True


def test_a_bundle_costs_its_messages_against_the_parse_rate(monkeypatch):
    """A 2 kB bundle of 100 messages must not do a hundred packets' work for one packet's price:
    at 20 packets a second, such a bundle leaves nothing to parse for the next second."""
    monkeypatch.setattr(admission, "PARSE_PER_SECOND", 20)
    now = [0.0]
    counters = admission.OscCounters()
    gate = admission.Admission(counters, [], [], clock=lambda: now[0])
    dispatcher = Dispatcher(_EveryAddressMapped(), gate, counters)  # type: ignore[arg-type]
    assert gate.may_parse()
    dispatcher.handle_packet(bundle(None, *[message("/mapped", 1.0)] * 100), ("127.0.0.1", 9), lambda _packets, _about: None)
    assert counters.messages == 100
    now[0] = 0.5
    assert not gate.may_parse() and counters.dropped == 1, "half a second later the bundle is still being paid for"
    now[0] = 1.5
    assert gate.may_parse(), "its debt is bounded (one second's rate): parsing resumes"


def test_tcp_connections_are_bounded_and_the_rest_closed(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        extra = 5
        # One connection from each of many loopback addresses: one address alone is held to its share.
        conns = [socket.create_connection(("127.0.0.1", daemon.osc.port), timeout=5, source_address=(f"127.0.2.{i + 1}", 0))
                 for i in range(admission.MAX_TCP_CONNECTIONS + extra)]
        try:
            wait_for(lambda: daemon.osc.counters.tcp_refused == extra, 5, "the connections over the bound to be closed")
            assert conns[-1].recv(16) == b""  # closed by the daemon
        finally:
            for conn in conns:
                conn.close()
        assert probe.request("/mrt/ping", "/mrt/pong", 1) == [1]
        wait_for(lambda: daemon.osc.admission.tcp_open == 0, 5, "the closed connections to be released")


def test_an_equal_power_crossfade_over_osc_keeps_constant_power(rig):
    daemon, engine, probe = rig
    with_prompts(daemon, probe, "a", "b")
    probe.send("/mrt/mix", "a", 1.0, "b", 0.0)
    wait_for(lambda: mix_of(daemon) == {"a": 1.0, "b": 0.0}, 5, "the start")
    listener = OscProbe(daemon.osc.port)
    try:
        listener.request("/mrt/subscribe", "/mrt/subscribed")
        start = listener.transcript.mark()
        probe.send("/mrt/mix", "a", 0.0, "b", 1.0, 0.8, "equal-power")  # 20 frames
        wait_for(lambda: mix_of(daemon) == {"a": 0.0, "b": 1.0}, 5, "the fade to land")
        frames(daemon, 2)
        mixes = [dict(zip(args[::2], args[1::2])) for args in listener.transcript.since(start).args_of("/mrt/mix")]
        inside = [m for m in mixes if 0.05 < m["a"] < 0.95]
        assert len(inside) >= 10, mixes
        for m in inside:  # constant power: a linear fade dips to 0.5 at its middle
            assert m["a"] ** 2 + m["b"] ** 2 == pytest.approx(1.0, abs=1e-5), m
    finally:
        listener.close()


def test_after_a_burst_the_freed_memory_is_handed_back_once_it_is_quiet(rig, monkeypatch):
    """A flood leaves the C heap holding what it freed (RSS 10 MB up after the abuse benchmark);
    once the burst is over the server hands it back, once per burst."""
    daemon, _engine, probe = rig
    trims: list[float] = []
    monkeypatch.setattr(transport, "release_free_memory", lambda: trims.append(time.monotonic()))
    for start in range(0, transport.TRIM_AFTER_PACKETS, 100):  # pings, 100 at a time
        for i in range(start, start + 100):
            probe.send("/mrt/ping", i)
        probe.wait_for_message(("/mrt/pong", [start + 99]))
    quiet_from = time.monotonic()
    wait_for(lambda: daemon.osc.counters.memory_trims == 1, transport.TRIM_IDLE_S * 3, "the trim after the burst")
    assert len(trims) == 1 and trims[0] - quiet_from >= transport.TRIM_IDLE_S * 0.9, "only once it was quiet"
