"""No stranger can lock the controls or turn the daemon into an amplifier (issue 26: 2, 5, 8, 11).

Each test runs the attack on loopback, bounded in count and time, and measures its figure beside a
no-attack baseline in the same run (printed; `pytest -s` shows them, docs/benchmarks.md has them).
A second sender on the same machine is 127.0.0.2: Linux routes all of 127/8 to loopback.
"""

from __future__ import annotations

import socket
import time


from conftest import probed_daemon, wait_for
from mrtd.control.state import HORIZON_S, MAX_PENDING, MAX_PER_SENDER
from mrtd.inputs.osc.dispatch import MAX_PACKET
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.web.config import WebConfig
from osc_probe import OscProbe, bundle, message, tcp_packet

ATTACKER = "127.0.0.2"


def frames(daemon, count: int = 2) -> None:
    target = daemon.generator.frames + count
    wait_for(lambda: daemon.generator.frames >= target, 5, f"{count} frames")


def flood(daemon, probe: OscProbe, packets: list[bytes], step: int = 256) -> None:
    """Send `packets`, `step` at a time, each step parsed before the next (none shed by the queue)."""
    counters = daemon.osc.counters
    for start in range(0, len(packets), step):
        before = counters.packets
        part = packets[start:start + step]
        for packet in part:
            probe.sock.sendto(packet, probe.target)
        wait_for(lambda: counters.packets >= before + len(part), 10, "the flood to be parsed")


def time_to_apply(daemon, probe: OscProbe, address: str, value, param: str, expected) -> float:
    """Seconds from sending `address value` to the generation thread holding it."""
    sent = time.monotonic()
    probe.send(address, value)
    wait_for(lambda: daemon.control.values[param] == expected, 5, f"{address} {value} applied")
    return time.monotonic() - sent


# -- 2. the schedule is fair ----------------------------------------------------------------------


def test_one_sender_filling_the_schedule_locks_no_one_out(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        attacker = OscProbe(daemon.osc.port, local=ATTACKER)
        try:
            frames(daemon, 3)
            baseline = time_to_apply(daemon, probe, "/mrt/mute", 1, "mute", True)
            probe.send("/mrt/mute", 0)
            wait_for(lambda: daemon.control.values["mute"] is False, 5, "unmuted")

            # The attack: 4,096 commands on a grid 1024 bars away (34 minutes at 120 BPM).
            far = [message("/mrt/at", "1024 bars", "/mrt/cfg/drums", 1) for _ in range(4096)]
            flood(daemon, attacker, far)
            far_held = daemon.control.held(ATTACKER)
            # Within the horizon: 50 bars at 120 BPM is 100 s; and bundles timetagged 119 s ahead.
            near = [message("/mrt/at", "50 bars", "/mrt/cfg/drums", 1) for _ in range(4096)]
            near += [bundle(time.time() + HORIZON_S - 1, message("/mrt/cfg/drums", 1)) for _ in range(4096)]
            flood(daemon, attacker, near)
            held = daemon.control.held(ATTACKER)

            # Another sender's volume (up and down), mute and reset, and the attacker's own mute.
            assert probe.exchange("/mrt/volume", 3.0) == []
            wait_for(lambda: daemon.control.values["volume"] == 3.0, 5, "volume up from another sender")
            assert probe.exchange("/mrt/volume", -6.0) == []
            assert probe.exchange("/mrt/reset") == []
            under_attack = time_to_apply(daemon, probe, "/mrt/mute", 1, "mute", True)
            assert attacker.exchange("/mrt/mute", 0) != [], "unmuting is not safer: the attacker's share is full"
            assert attacker.exchange("/mrt/notes/clear") == [] and attacker.exchange("/mrt/mute", 1) == []
            wait_for(lambda: daemon.control.values["volume"] == -6.0, 5, "volume down")
            status = daemon.status()
            print(f"\nschedule: attacker holds {far_held} entries after 4,096 x '1024 bars', {held} after 8,192"
                  f" within the horizon (share {MAX_PER_SENDER}); mute applied in {baseline * 1000:.0f} ms"
                  f" baseline, {under_attack * 1000:.0f} ms under attack; underruns {status['underruns']}")
            assert far_held == 0, "a grid position beyond the horizon is refused like a timetag"
            assert held <= MAX_PER_SENDER
            assert under_attack < 1.0
            assert status["underruns"] == 0

            # Four senders together fill the whole schedule: what makes things safer still goes in.
            for local in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
                others = OscProbe(daemon.osc.port, local=local)
                try:
                    flood(daemon, others, [bundle(time.time() + HORIZON_S - 1, message("/mrt/cfg/drums", 1))
                                           for _ in range(MAX_PER_SENDER)])
                finally:
                    others.close()
            assert daemon.control.pending() >= MAX_PENDING
            assert "full" in probe.exchange("/mrt/volume", 0.0)[0][1][1], "louder waits for room"
            for address, value in (("/mrt/volume", -12.0), ("/mrt/mute", 1), ("/mrt/bypass", 1)):
                assert probe.exchange(address, value) == [], address
            for address in ("/mrt/reset", "/mrt/notes/clear", "/mrt/stop"):
                assert probe.exchange(address) == [], address
            wait_for(lambda: daemon.control.values["volume"] == -12.0 and daemon.control.rest_wanted, 5,
                     "volume down and the rest applied in a full schedule")
        finally:
            attacker.close()


# -- 5. no amplification for an address that proved nothing ---------------------------------------


class RawSender:
    """One UDP socket on `local`: counts the bytes it sends and the bytes that come back to it."""

    def __init__(self, port: int, local: str) -> None:
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local, 0))
        self.sock.settimeout(5)
        self.sent = self.received = 0
        self.replies: list[bytes] = []

    def send(self, packet: bytes) -> None:
        self.sent += len(packet)
        self.sock.sendto(packet, self.target)

    def fence(self, token: str) -> None:
        """A ping (answered with exactly its own size), then everything up to its pong."""
        ping = message("/mrt/ping", token)
        self.send(ping)
        while True:
            data = self.sock.recv(65536)
            self.received += len(data)
            if data == message("/mrt/pong", token):
                return
            self.replies.append(data)


def test_an_unproven_address_draws_no_more_bytes_than_it_sends(tmp_path):
    """The issue's attack: a spoofable 20-byte /mrt/subscribe drew 3.2 MB of pushes over its lease,
    and /mrt/status or /mrt/sync 116 bytes for 16. Here 16 loopback addresses, treated as other
    machines, send every request that answers, then the state changes for a second of frames."""
    osc = OscConfig(port=0, trust_loopback=False)
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        frames(daemon, 3)
        attack = [message("/mrt/subscribe"), message("/mrt/status"), message("/mrt/sync"), message("/mrt/hello"),
                  message("/mrt/hello", 0), message("/mrt/hello", 12345), message("/mrt/nothing"),
                  message("/mrt/volume", "loud"), b"\x00garbage", bundle(None, *[message("/mrt/sync")] * 8),
                  message("/mrt/subscribe", 9), message("/mrt/status")]
        senders = [RawSender(daemon.osc.port, f"127.0.0.{10 + i}") for i in range(16)]
        proven = RawSender(daemon.osc.port, "127.0.0.9")  # the baseline: an address that proved itself
        try:
            for sender in senders:
                for packet in attack:
                    sender.send(packet)
            for step in range(25):  # a second of state changes, which subscribers would be pushed
                probe.send("/mrt/temperature", 0.5 + step / 100)
                frames(daemon, 1)
            for i, sender in enumerate(senders):
                sender.fence(f"fence-{i}")
            ratios = [s.received / s.sent for s in senders]
            proven.send(message("/mrt/hello", 0))
            cookie = proven.sock.recv(100)
            proven.send(message("/mrt/hello", int.from_bytes(cookie[-4:], "big")))
            proven.sock.recv(100)
            proven.sent = proven.received = 0
            for packet in (message("/mrt/status"), message("/mrt/sync")):
                proven.send(packet)
            proven.fence("proven")
            print(f"\namplification: unproven {sum(s.received for s in senders)} bytes back for "
                  f"{sum(s.sent for s in senders)} sent, worst address {max(ratios):.2f}x; "
                  f"proven baseline {proven.received / proven.sent:.1f}x (status and sync); "
                  f"subscribers {len(daemon.pusher.subscribers())}")
            assert max(ratios) <= 1.0, ratios
            assert daemon.pusher.subscribers() == [], "no subscription without a proof"
            assert proven.received / proven.sent > 5, "the measurement sees a full reply when it is allowed"
        finally:
            for sender in (*senders, proven):
                sender.sock.close()


# -- 11. a local flood does not starve `mrtd status` --------------------------------------------------


def test_a_local_flood_from_one_port_leaves_mrtd_status_its_own_budget(tmp_path):
    """Every local tool used to share 127.0.0.1's reply budget: a flood of /mrt/sync from one port
    held back `mrtd status` from any other. Loopback buckets are per (address, port) now."""
    from mrtd.client import Client

    with probed_daemon(tmp_path) as (daemon, engine, probe):
        for name in "abcd":  # a sync of a few kB, so a few dozen drain a 64 kB bucket
            probe.send("/mrt/prompt", name, name + " " + "x" * 900, 0.0)
        wait_for(lambda: len(daemon.control.prompt_texts) == 4, 5, "the prompts")
        with Client(port=daemon.osc.port, timeout=1.0) as client:
            started = time.monotonic()
            assert client.status()["frames"] > 0
            baseline = time.monotonic() - started
        flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flooder.bind(("127.0.0.1", 0))
        guard, port = daemon.osc.guard, flooder.getsockname()[1]
        try:
            sent = 0
            while not guard.exhausted("127.0.0.1", port) and sent < 2000:  # bounded: its bucket, or 2,000 syncs
                flooder.sendto(message("/mrt/sync"), ("127.0.0.1", daemon.osc.port))
                sent += 1
                if sent % 50 == 0:
                    wait_for(lambda: daemon.osc.counters.packets >= sent, 5, "the flood parsed")
            assert guard.exhausted("127.0.0.1", port), "the flooding port spent its budget"
            for packet in [message("/mrt/sync")] * 200:  # and keeps flooding while status is asked
                flooder.sendto(packet, ("127.0.0.1", daemon.osc.port))
            with Client(port=daemon.osc.port, timeout=1.0) as client:
                started = time.monotonic()
                status = client.status()  # raises NoReply after a second
                flooded = time.monotonic() - started
        finally:
            flooder.close()
        print(f"\nlocal flood: {sent} syncs from one port exhausted its budget; mrtd status answered in "
              f"{baseline * 1000:.1f} ms baseline, {flooded * 1000:.1f} ms under the flood")
        assert status["frames"] > 0 and flooded < 1.0


# -- 8. dripping TCP connections hold no slot ------------------------------------------------------


def tcp_ping(port: int, token: str, timeout: float = 2.0) -> bool:
    """A legitimate TCP client: connect, ping, and True when its pong comes back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(tcp_packet(message("/mrt/ping", token)))
            data = b""
            while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
                chunk = conn.recv(4096)
                if not chunk:
                    return False  # closed: over a bound
                data += chunk
            return data[4:] == message("/mrt/pong", token)
    except OSError:
        return False


def test_dripping_tcp_connections_lock_no_client_out(tmp_path):
    """The issue's attack: 32 connections each dripping a byte every 100 s held every TCP slot for
    ever (the idle timeout counted only total silence). Here 100 connections drip from 127.0.0.2 and
    32 more from 32 other addresses, with the timeouts shortened by the config: 1 s to finish a
    message, 3 s without a whole one."""
    osc = OscConfig(port=0, tcp_message_s=1.0, tcp_idle_s=3.0)
    with probed_daemon(tmp_path, osc=osc) as (daemon, engine, probe):
        port = daemon.osc.port
        frames(daemon, 3)
        started = time.monotonic()
        assert tcp_ping(port, "baseline")
        baseline = time.monotonic() - started
        underruns = daemon.status()["underruns"]

        def drip_from(local: str) -> socket.socket:
            conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            conn.bind((local, 0))
            conn.connect(("127.0.0.1", port))
            conn.send(MAX_PACKET.to_bytes(4, "big"))  # a message of 16 kB announced, then a byte at a time
            return conn

        drips: list[socket.socket] = []
        closed: set[int] = set()

        def drip() -> None:
            for i, conn in enumerate(drips):  # a byte each: the message is never whole
                if i not in closed:
                    try:
                        conn.send(b"\x00")
                    except OSError:
                        closed.add(i)

        try:
            for local in [ATTACKER] * 100 + [f"127.0.1.{i}" for i in range(32)]:
                drips.append(drip_from(local))
                if len(drips) % 8 == 0:
                    drip()  # the ones open already keep dripping while the rest connect
            started = time.monotonic()
            attempts = 0
            while time.monotonic() - started < 5.0:  # bounded: the attack lasts at most 5 s
                drip()
                attempts += 1
                if tcp_ping(port, f"legit-{attempts}", timeout=1.0):
                    break
                time.sleep(0.1)  # the attacker's drip rate, not a wait for the daemon
            else:
                raise AssertionError(f"no TCP client got in for 5 s ({daemon.osc.counters})")
            connected = time.monotonic() - started
            counters = daemon.osc.counters
            wait_for(lambda: daemon.osc.admission.tcp_open == 0, 5, "every dripping connection closed")
            print(f"\ntcp lockout: 132 dripping connections; a client got its pong after {connected:.2f} s"
                  f" ({attempts} tries; baseline {baseline * 1000:.1f} ms); refused {counters.tcp_refused},"
                  f" closed slow {counters.tcp_slow_closed}; underruns {daemon.status()['underruns'] - underruns} beyond the baseline")
            assert counters.tcp_slow_closed > 0, "the dripping ones were closed for making no progress"
            assert daemon.status()["underruns"] == underruns
        finally:
            for conn in drips:
                conn.close()


def test_one_address_holds_at_most_its_share_of_tcp_connections(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        cap = daemon.osc.config.tcp_per_address
        conns = []
        try:
            for _ in range(cap + 4):
                conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                conn.bind((ATTACKER, 0))
                conn.connect(("127.0.0.1", daemon.osc.port))
                conns.append(conn)
            wait_for(lambda: daemon.osc.counters.tcp_refused == 4, 5, "the connections over the address's share closed")
            conns[-1].settimeout(5)
            assert conns[-1].recv(16) == b"", "closed by the daemon"
            assert tcp_ping(daemon.osc.port, "another address"), "the other slots stay free for other addresses"
        finally:
            for conn in conns:
                conn.close()


def test_each_web_page_is_a_sender_of_its_own(tmp_path):
    """Two pages open from one tablet address: one filling its share leaves the other its own."""
    import json

    from mrtd.inputs.web import protocol

    with probed_daemon(tmp_path, web=WebConfig(port=0)) as (daemon, engine, probe):
        surface, tablet = daemon.web.host, ("192.0.2.5", 0)

        def send(page: str, address: str, *args) -> list:
            return protocol.dispatch(surface, json.dumps({"address": address, "args": list(args)}), tablet, page)

        refused = [send("page a", "/mrt/at", "50 bars", "/mrt/cfg/drums", 1) for _ in range(MAX_PER_SENDER + 8)]
        assert sum(1 for r in refused if r) == 8 and "commands waiting" in refused[-1][0]["args"][1]
        assert send("page b", "/mrt/volume", 3.0) == []
        wait_for(lambda: daemon.control.values["volume"] == 3.0, 5, "the other page's volume")
