"""OSC over UDP and TCP: receive, route through the table, reply to the sender.

Receive paths never sleep and never touch the engine: a handler validates its
arguments and submits commands with their due time. Every bad input gets one
`/mrt/error <address> <reason>` back (rate-limited per client), one log line
(rate-limited too), and changes nothing.

Load is shed before it reaches the music: the receive threads only read bytes
and queue them (a bounded queue: a full one drops and counts the packet); one
worker thread parses and dispatches at most `PARSE_PER_SECOND` packets a
second (the rest are dropped and counted), so a flood costs the generation
thread a bounded share of the interpreter. TCP connections are bounded in
number (in all and per address) and closed when they make no progress: a
message must finish soon after its first byte, and a connection that finishes
none for a while is closed, however many bytes it drips. What goes back over UDP is bounded per address
by `ReplyGuard`, so a spoofed request cannot turn us into an amplifier.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import math
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from mrtd.vocabulary.codec import SLIP_END, PacketError, encode, size_prefix, slip_decode, slip_encode, timed_messages
from mrtd.inputs.osc.admission import ReplyGuard
from mrtd.inputs.refusals import RefusalLog
from mrtd.vocabulary.replies import Error
from mrtd.inputs.osc.table import ROOT, ROUTES, Envelope, Host
from mrtd.lifecycle import Worker, release_free_memory, spawn

log = logging.getLogger(__name__)


def _not_from_python_osc(record: logging.LogRecord) -> bool:
    # python-osc logs a warning on the root logger for every odd type tag it parses. A
    # hostile or broken sender would flood the log (and, measured, starve the generator
    # into underruns); we report bad packets ourselves, rate-limited.
    return "pythonosc" not in record.pathname


logging.getLogger().addFilter(_not_from_python_osc)

MAX_PACKET = 16384  # bytes; a 768-float embedding is about 3.9 kB
ERRORS_PER_SECOND = 20  # per client, replies and log lines alike
QUEUE_PACKETS = 1024  # packets waiting to be parsed; beyond this they are dropped (and counted)
PARSE_PER_SECOND = 20000  # packets parsed per second, all senders together; above what a 2-core box parses, so the bounded queue usually sheds first
MAX_TCP_CONNECTIONS = 32  # open at once; more are closed at once (and counted)
MAX_TCP_PER_ADDRESS = 8  # open at once from one address, so one host cannot hold every slot
# Progress, not mere bytes: 32 connections dripping a byte every 100 s once held every slot for
# ever (the old timeout counted only total silence). A connection must finish each message
# within TCP_MESSAGE_S of its first byte, and one that finishes none for TCP_IDLE_S is closed.
TCP_MESSAGE_S = 10.0
TCP_IDLE_S = 120.0
MAX_UDP_REPLY = 60000  # bytes; a reply message larger than one datagram is refused with an error naming TCP
TRIM_AFTER_PACKETS = 1000  # a burst this big, then TRIM_IDLE_S of quiet: hand freed memory back
TRIM_IDLE_S = 2.0
PORT_ZERO_TRIES = 20  # port 0: fresh UDP ports tried until TCP may have the same number
ANSWERED_ONCE_PER_PACKET = frozenset({f"{ROOT}/sync", f"{ROOT}/status"})  # large replies: one per packet


@dataclass
class OscConfig:
    bind: str = "127.0.0.1"
    port: int = 7400
    allow: list[str] = field(default_factory=list)  # CIDR networks; required off loopback
    tcp: bool = True
    # Loopback may always talk to us, whatever the allow-list says: `mrtd send` and
    # `mrtd status` speak from 127.0.0.1. False locks local tools out too.
    allow_loopback: bool = True
    # Replies to loopback are not bounded (a packet from 127/8 cannot come from another host).
    # False bounds them like any other address (the abuse benchmark measures with this).
    trust_loopback: bool = True
    # TCP: seconds to finish a message once its first byte came, seconds without a whole message
    # before a connection is closed, and connections open at once from one address.
    tcp_message_s: float = TCP_MESSAGE_S
    tcp_idle_s: float = TCP_IDLE_S
    tcp_per_address: int = MAX_TCP_PER_ADDRESS

    def __post_init__(self) -> None:
        self.networks()  # refuse a bad configuration where it is written, not when it is used
        if not 0 <= self.port <= 65535:
            raise ValueError(f"OSC port must be 0-65535 (0: any free port), got {self.port}")
        if not (0 < self.tcp_message_s <= 3600 and 0 < self.tcp_idle_s <= 86400):
            raise ValueError(f"OSC tcp_message_s lies in (0, 3600] and tcp_idle_s in (0, 86400], got {self.tcp_message_s}, {self.tcp_idle_s}")
        if not 1 <= self.tcp_per_address <= MAX_TCP_CONNECTIONS:
            raise ValueError(f"OSC tcp_per_address lies in 1-{MAX_TCP_CONNECTIONS}, got {self.tcp_per_address}")

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        try:
            networks = [ipaddress.ip_network(n, strict=False) for n in self.allow]
        except ValueError as exc:
            raise ValueError(f"OSC allow-list: {exc}") from None
        try:
            loopback = ipaddress.ip_address(self.bind).is_loopback
        except ValueError:
            loopback = self.bind == "localhost"
        if not loopback and not networks:
            raise ValueError(f"binding OSC to {self.bind} needs an allow-list of client networks (e.g. --osc-allow 192.168.1.0/24)")
        return networks


@dataclass
class OscCounters:
    packets: int = 0
    messages: int = 0
    errors: int = 0
    refused: int = 0  # senders outside the allow-list
    errors_suppressed: int = 0
    dropped: int = 0  # packets shed under load (queue full or over the parse rate)
    memory_trims: int = 0  # freed memory handed back after a burst
    repeats_ignored: int = 0  # a second /mrt/sync or /mrt/status in one packet
    tcp_refused: int = 0  # connections over the bound (in all, or from one address), closed at once
    tcp_idle_closed: int = 0  # no whole message for tcp_idle_s
    tcp_slow_closed: int = 0  # a message not finished within tcp_message_s of its first byte
    replies_held: int = 0  # reply batches not sent: over the address's budget, or too large for UDP


class _ErrorBudget:
    """A token bucket per client, so a broken or hostile sender cannot flood replies or logs."""

    def __init__(self, rate: float = ERRORS_PER_SECOND) -> None:
        self.rate = rate
        self._tokens: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now: float) -> bool:
        tokens, stamp = self._tokens.get(client, (self.rate, now))
        tokens = min(self.rate, tokens + (now - stamp) * self.rate)
        if len(self._tokens) > 10_000:  # forget idle clients rather than grow without bound
            self._tokens.clear()
        if tokens < 1.0:
            self._tokens[client] = (tokens, now)
            return False
        self._tokens[client] = (tokens - 1.0, now)
        return True


class OscServer:
    def __init__(self, host: Host, config: OscConfig | None = None) -> None:
        self.host = host
        self.config = config or OscConfig()
        self.counters = OscCounters()
        self._networks = self.config.networks()
        self._budget = _ErrorBudget()
        self._budget_lock = threading.Lock()
        self.guard = ReplyGuard(trust_loopback=self.config.trust_loopback)
        self.refusals = RefusalLog("OSC", log)  # who was refused and why, at most a line per address a minute
        self._work: queue.Queue[tuple[bytes, tuple[str, int], Callable[[list[bytes], str], None]] | None] = queue.Queue(QUEUE_PACKETS)
        self._parse_tokens, self._parse_stamp = float(PARSE_PER_SECOND), time.monotonic()
        self._since_trim = 0  # packets and connections since freed memory was last handed back
        self._tcp_open = 0
        self._tcp_by_address: dict[str, int] = {}  # open connections per address (only those with one)
        self._tcp_lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[Worker] = []
        self.udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self.on_message: Callable[[str, tuple[str, int]], None] | None = None  # e.g. subscription leases

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        # Port 0 asks the system for a free UDP port; TCP then wants the same number, which some
        # other TCP socket (an outgoing connection's local port, say) may hold: pick again.
        tries = PORT_ZERO_TRIES if cfg.port == 0 else 1
        for attempt in range(tries):
            try:
                self._bind(cfg)
                break
            except OSError as exc:
                self._close_sockets()
                if exc.errno == errno.EADDRINUSE and attempt + 1 < tries:
                    continue
                self.stop()
                raise OSError(f"cannot listen for OSC on {cfg.bind}:{cfg.port}: {exc.strerror or exc} (is another mrtd running?)") from None
        # Each loop watches the server's one `_stop`; stop() sets it and closes the sockets
        # (which ends the receive and accept loops) before it stops these.
        self._workers = [Worker("mrtd-osc-parse", self._work_loop, wake=self._wake_parser),
                         Worker("mrtd-osc-udp", self._udp_loop)]
        if self._tcp is not None:
            self._workers.append(Worker("mrtd-osc-tcp", self._tcp_accept))
        for worker in self._workers:
            worker.start()

    def _bind(self, cfg: OscConfig) -> None:
        """The UDP socket and, when TCP is on, a listener on the same port number. Each is held
        as soon as it exists, so a failure part way leaves `_close_sockets` something to close."""
        udp = self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for bursts (a fader flood, a Tidal cycle's worth of events) while we parse.
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        udp.bind((cfg.bind, cfg.port))
        if cfg.tcp:
            tcp = self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((cfg.bind, udp.getsockname()[1]))
            tcp.listen(16)

    def _close_sockets(self) -> None:
        for sock in (self.udp, self._tcp):
            if sock is not None:
                sock.close()
        self.udp = self._tcp = None

    @property
    def port(self) -> int:
        return self.udp.getsockname()[1] if self.udp else self.config.port

    def _wake_parser(self) -> None:
        try:
            self._work.put_nowait(None)
        except queue.Full:
            pass  # packets are waiting, so the parser is not blocked: it sees `_stop` after this one

    def stop(self) -> None:
        self._stop.set()
        for sock in (self.udp, self._tcp):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self.refusals.flush(final=True)

    # -- transports ----------------------------------------------------------
    def _udp_loop(self) -> None:
        assert self.udp is not None
        sock = self.udp
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65536)
            except OSError:
                if self._stop.is_set():
                    return
                continue  # e.g. ICMP port-unreachable from a vanished client
            if self._stop.is_set():
                return
            if sender is None:
                continue
            if not self._allowed(sender[0]):
                self._refuse(sender)
                continue
            self._enqueue(data, sender, self._udp_replier(sender, len(data)))

    def _enqueue(self, data: bytes, sender: tuple[str, int], reply: Callable[[list[bytes], str], None]) -> None:
        try:
            self._work.put_nowait((data, sender, reply))
        except queue.Full:
            self.counters.dropped += 1

    def _work_loop(self) -> None:
        """The one thread that parses and dispatches: a flood costs one thread's share, not more."""
        while not self._stop.is_set():
            try:
                item = self._work.get(timeout=TRIM_IDLE_S)
            except queue.Empty:  # quiet now: after a burst, RSS returns to where it was
                if self._since_trim >= TRIM_AFTER_PACKETS:
                    self._since_trim = 0
                    release_free_memory()
                    self.counters.memory_trims += 1
                continue
            if item is None:
                return
            self._since_trim += 1
            now = time.monotonic()
            self._parse_tokens = min(float(PARSE_PER_SECOND), self._parse_tokens + (now - self._parse_stamp) * PARSE_PER_SECOND)
            self._parse_stamp = now
            if self._parse_tokens < 1.0:
                self.counters.dropped += 1
                continue
            self._parse_tokens -= 1.0
            data, sender, reply = item
            try:
                self.handle_packet(data, sender, reply)
            except Exception:  # never let one packet stop the worker
                log.exception("OSC packet from %s:%d failed", sender[0], sender[1])

    def _udp_replier(self, to: tuple[str, int], request_bytes: int) -> Callable[[list[bytes], str], None]:
        """How one datagram's replies go back to `to`. Its bytes earn reply credit once, with the
        first reply: a bundle answered message by message (five pings and a sync) must not earn
        six times its size and so draw six times the ratio back to an unproven address."""
        unearned = [request_bytes]

        def reply(packets: list[bytes], address: str) -> None:
            try:
                earned = unearned.pop()  # atomic: a late answer on another thread cannot earn it twice
            except IndexError:
                earned = 0
            self._udp_reply(packets, address, to, earned)

        return reply

    def _udp_reply(self, packets: list[bytes], address: str, to: tuple[str, int], request_bytes: int) -> None:
        """Send one request's replies, or hold them all back with one short error saying why."""
        ip = to[0]
        if request_bytes:
            self.guard.heard(ip, request_bytes)
        reason = None
        if any(len(p) > MAX_UDP_REPLY for p in packets):
            reason = f"the reply does not fit a UDP datagram ({max(map(len, packets))} bytes): ask over TCP"
        elif not self.guard.allow_reply(ip, sum(map(len, packets)), to[1]):
            reason = "reply held back: this address is over its reply budget (send /mrt/hello 0, or use TCP)"
        if reason is not None:
            self.counters.replies_held += 1
            error = encode(*Error(address, reason).message())
            if address == Error.address or not self.guard.allow_reply(ip, len(error), to[1]):
                return
            packets = [error]
        for packet in packets:
            try:
                self.udp.sendto(packet, to)  # type: ignore[union-attr]
            except OSError:
                return  # the client went away; replies are best-effort

    def _tcp_accept(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                conn, sender = self._tcp.accept()
            except OSError:
                if self._stop.is_set():
                    return
                continue  # e.g. EMFILE: the bound below keeps us well under it
            if not self._allowed(sender[0]):
                self._refuse(sender)
                conn.close()
                continue
            ip = sender[0]
            with self._tcp_lock:
                mine = self._tcp_by_address.get(ip, 0)
                full = self._tcp_open >= MAX_TCP_CONNECTIONS or mine >= self.config.tcp_per_address
                if not full:
                    self._tcp_open += 1
                    self._tcp_by_address[ip] = mine + 1
            if full:
                self.counters.tcp_refused += 1
                conn.close()
                continue
            self.guard.prove(sender[0])  # a completed handshake: the address is really the sender's
            self._since_trim += 1  # each connection's thread leaves memory behind too
            # Not a Worker, never joined: bounded by MAX_TCP_CONNECTIONS, each ends when its client
            # closes, when it makes no progress (tcp_message_s, tcp_idle_s), or once `_stop` is set.
            spawn("mrtd-osc-tcp-client", self._tcp_connection, conn, sender)

    def _tcp_connection(self, conn: socket.socket, sender: tuple[str, int]) -> None:
        try:
            self._tcp_stream(conn, sender)
        finally:
            with self._tcp_lock:
                self._tcp_open -= 1
                left = self._tcp_by_address.get(sender[0], 1) - 1
                if left > 0:
                    self._tcp_by_address[sender[0]] = left
                else:
                    self._tcp_by_address.pop(sender[0], None)

    def _tcp_stream(self, conn: socket.socket, sender: tuple[str, int]) -> None:
        """OSC 1.0 (int32 size prefix) or OSC 1.1 (SLIP), told apart by the first byte."""
        buffer = b""
        slip: bool | None = None
        send_lock = threading.Lock()
        cfg = self.config
        last_whole = time.monotonic()  # when the latest whole message (or the connection) came
        partial_since: float | None = None  # when the first byte of the message not yet whole came

        def reply(packets: list[bytes], _address: str = "") -> None:
            data = b"".join(slip_encode(p) if slip else size_prefix(p) for p in packets)
            with send_lock:
                try:  # never block the parse worker on a client that does not read
                    sent = conn.send(data, socket.MSG_DONTWAIT)
                except OSError:
                    sent = -1
                if sent != len(data):
                    self.counters.replies_held += 1
                    try:
                        conn.shutdown(socket.SHUT_RDWR)  # a partial frame cannot be resynchronised
                    except OSError:
                        pass

        def error(reason: str) -> None:
            self._error(sender, reply, "", reason, None)

        with conn:
            while not self._stop.is_set():
                now = time.monotonic()
                idle_left = last_whole + cfg.tcp_idle_s - now
                slow_left = math.inf if partial_since is None else partial_since + cfg.tcp_message_s - now
                if min(idle_left, slow_left) <= 0:
                    if slow_left <= 0:
                        self.counters.tcp_slow_closed += 1
                    else:
                        self.counters.tcp_idle_closed += 1
                    return
                conn.settimeout(min(idle_left, slow_left))
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue  # the deadlines above close it
                except OSError:
                    return
                if not chunk:
                    return
                received = time.monotonic()
                buffer += chunk
                whole = 0  # messages this chunk finished
                if slip is None:
                    slip = buffer[0] == SLIP_END
                while True:
                    if slip:
                        start = buffer.find(bytes([SLIP_END]))
                        end = buffer.find(bytes([SLIP_END]), start + 1) if start >= 0 else -1
                        if end < 0:
                            if len(buffer) > 4 * MAX_PACKET:
                                error("packet larger than the limit")
                                return
                            break
                        frame, buffer = buffer[start + 1 : end], buffer[end:]
                        if not frame:
                            buffer = buffer[1:] if buffer[:2] == bytes([SLIP_END, SLIP_END]) else buffer
                            continue
                        whole += 1
                        self._enqueue(slip_decode(frame), sender, reply)
                    else:
                        if len(buffer) < 4:
                            break
                        (size,) = struct.unpack(">i", buffer[:4])
                        if not 0 < size <= MAX_PACKET:
                            error(f"packet size {size} outside 1-{MAX_PACKET} bytes")
                            return  # the stream cannot be resynchronised
                        if len(buffer) < 4 + size:
                            break
                        packet, buffer = buffer[4 : 4 + size], buffer[4 + size :]
                        whole += 1
                        self._enqueue(packet, sender, reply)
                if whole:
                    last_whole, partial_since = received, None
                if partial_since is None and buffer.strip(bytes([SLIP_END])):
                    partial_since = received  # a message has begun: it has tcp_message_s to finish

    # -- routing -------------------------------------------------------------
    def _allowed(self, address: str) -> bool:
        if not self._networks:
            return True
        ip = ipaddress.ip_address(address)
        if self.config.allow_loopback and ip.is_loopback:
            return True
        return any(ip in network for network in self._networks)

    def _refuse(self, sender: tuple[str, int]) -> None:
        self.counters.refused += 1
        self.refusals.refused(sender[0], f"not in the OSC allow-list {','.join(self.config.allow)}")

    def status(self) -> dict[str, int]:
        """Counters a user sees in `/mrt/status`."""
        c, g = self.counters, self.guard.counters
        return {
            "osc_packets": c.packets,
            "osc_errors": c.errors,
            "osc_refused": c.refused,
            "osc_dropped": c.dropped,
            "osc_tcp_refused": c.tcp_refused,
            "osc_replies_held": c.replies_held + g.packets_held,
        }

    def handle_packet(self, data: bytes, sender: tuple[str, int], reply: Callable[[list[bytes], str], None]) -> None:
        counters = self.counters
        counters.packets += 1
        if not self._allowed(sender[0]):
            self._refuse(sender)
            return
        if len(data) > MAX_PACKET:
            self._error(sender, reply, "", f"packet of {len(data)} bytes is larger than {MAX_PACKET}", None)
            return
        try:
            messages = timed_messages(data)
        except PacketError as exc:
            self._error(sender, reply, "", str(exc), None)
            return
        # A bundle costs its messages, not one packet, against the parse budget: a 2 kB bundle of
        # 100 /mrt/sync must not do a hundred packets' work for the price of one.
        self._parse_tokens = max(-float(PARSE_PER_SECOND), self._parse_tokens - (len(messages) - 1))
        answered: set[str] = set()
        for due, address, args in messages:
            counters.messages += 1
            if address in ANSWERED_ONCE_PER_PACKET:
                if address in answered:  # 100 syncs in one bundle get one answer, not 100
                    counters.repeats_ignored += 1
                    continue
                answered.add(address)
                if self.guard.exhausted(sender[0], sender[1]):  # the reply could not go out: do not build it
                    counters.replies_held += 1
                    continue
            self.dispatch(address, args, due, sender, reply)

    def dispatch(
        self, address: str, args: list, due: float | None, sender: tuple[str, int], reply: Callable[[list[bytes], str], None]
    ) -> None:
        if self.on_message is not None:
            self.on_message(address, sender)
        route = ROUTES.get(address)
        if route is None:
            try:  # a scene's controller mapping may listen on any address
                if self.host.mapped(address, args, due):
                    return
            except ValueError as exc:
                self._error(sender, reply, address, str(exc), args)
                return
            self._error(sender, reply, address, "unknown address", args)
            return
        try:
            answer = lambda late: reply([encode(a, r) for a, r in late], address)  # noqa: E731
            replies = route.handle(self.host, args, Envelope(address, due, sender, answer))  # decodes, then handles
            # Encoded here, inside the try: a reply that cannot be encoded is answered as an error.
            packets = [encode(reply_address, reply_args) for reply_address, reply_args in replies or ()]
        except ValueError as exc:
            self._error(sender, reply, address, str(exc), args)
            return
        except Exception:  # a bug in a handler must not stop the server or the music
            log.exception("OSC handler for %s failed", address)
            self._error(sender, reply, address, "internal error (logged)", args)
            return
        if packets:
            reply(packets, address)

    def _error(self, sender: tuple[str, int], reply: Callable[[list[bytes], str], None], address: str, reason: str, args: list | None) -> None:
        self.counters.errors += 1
        with self._budget_lock:
            allowed = self._budget.allow(sender[0], time.monotonic())
        if not allowed:
            self.counters.errors_suppressed += 1
            return
        shown = "" if args is None else " " + repr(args)[:120]
        log.warning("OSC from %s:%d: %s%s: %s", sender[0], sender[1], address or "(packet)", shown, reason)
        reply([encode(*Error(address, reason).message())], Error.address)
