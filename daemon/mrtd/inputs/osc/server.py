"""OSC over UDP and TCP: receive, route through the table, reply to the sender.

Receive paths never sleep and never touch the engine: a handler validates its
arguments and submits commands with their due time. Every bad input gets one
`/mrt/error <address> <reason>` back (rate-limited per client), one log line
(rate-limited too), and changes nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from mrtd.inputs.osc.codec import SLIP_END, PacketError, encode, size_prefix, slip_decode, slip_encode, timed_messages
from mrtd.inputs.osc.table import ROOT, ROUTES, Host, Request

log = logging.getLogger(__name__)


def _not_from_python_osc(record: logging.LogRecord) -> bool:
    # python-osc logs a warning on the root logger for every odd type tag it parses. A
    # hostile or broken sender would flood the log (and, measured, starve the generator
    # into underruns); we report bad packets ourselves, rate-limited.
    return "pythonosc" not in record.pathname


logging.getLogger().addFilter(_not_from_python_osc)

MAX_PACKET = 16384  # bytes; a 768-float embedding is about 3.9 kB
ERRORS_PER_SECOND = 20  # per client, replies and log lines alike


@dataclass
class OscConfig:
    bind: str = "127.0.0.1"
    port: int = 7400
    allow: list[str] = field(default_factory=list)  # CIDR networks; required off loopback
    tcp: bool = True

    def __post_init__(self) -> None:
        self.networks()  # refuse a bad configuration where it is written, not when it is used
        if not 0 <= self.port <= 65535:
            raise ValueError(f"OSC port must be 0-65535 (0: any free port), got {self.port}")

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
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self.on_message: Callable[[str, tuple[str, int]], None] | None = None  # e.g. subscription leases

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        try:
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # Room for bursts (a fader flood, a Tidal cycle's worth of events) while we parse.
            self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.udp.bind((cfg.bind, cfg.port))
            if cfg.tcp:
                self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._tcp.bind((cfg.bind, self.udp.getsockname()[1]))
                self._tcp.listen(16)
        except OSError as exc:
            self.stop()
            raise OSError(f"cannot listen for OSC on {cfg.bind}:{cfg.port}: {exc.strerror or exc} (is another mrtd running?)") from None
        self._spawn(self._udp_loop, "mrtd-osc-udp")
        if self._tcp is not None:
            self._spawn(self._tcp_accept, "mrtd-osc-tcp")

    @property
    def port(self) -> int:
        return self.udp.getsockname()[1] if self.udp else self.config.port

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for sock in (self.udp, self._tcp):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        for thread in self._threads:
            thread.join(2.0)
        self._threads.clear()

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
            self.handle_packet(data, sender, lambda packet, to=sender: self._udp_send(packet, to))

    def _udp_send(self, packet: bytes, to: tuple[str, int]) -> None:
        try:
            self.udp.sendto(packet, to)  # type: ignore[union-attr]
        except OSError:
            pass  # the client went away; replies are best-effort

    def _tcp_accept(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                conn, sender = self._tcp.accept()
            except OSError:
                return
            if not self._allowed(sender[0]):
                self.counters.refused += 1
                conn.close()
                continue
            self._spawn(self._tcp_connection, "mrtd-osc-tcp-client", conn, sender)

    def _tcp_connection(self, conn: socket.socket, sender: tuple[str, int]) -> None:
        """OSC 1.0 (int32 size prefix) or OSC 1.1 (SLIP), told apart by the first byte."""
        buffer = b""
        slip: bool | None = None
        send_lock = threading.Lock()

        def reply(packet: bytes) -> None:
            with send_lock:
                try:
                    conn.sendall(slip_encode(packet) if slip else size_prefix(packet))
                except OSError:
                    pass

        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                if slip is None:
                    slip = buffer[0] == SLIP_END
                while True:
                    if slip:
                        start = buffer.find(bytes([SLIP_END]))
                        end = buffer.find(bytes([SLIP_END]), start + 1) if start >= 0 else -1
                        if end < 0:
                            if len(buffer) > 4 * MAX_PACKET:
                                self._error(sender, reply, "", "packet larger than the limit", None)
                                return
                            break
                        frame, buffer = buffer[start + 1 : end], buffer[end:]
                        if not frame:
                            buffer = buffer[1:] if buffer[:2] == bytes([SLIP_END, SLIP_END]) else buffer
                            continue
                        self.handle_packet(slip_decode(frame), sender, reply)
                    else:
                        if len(buffer) < 4:
                            break
                        (size,) = struct.unpack(">i", buffer[:4])
                        if not 0 < size <= MAX_PACKET:
                            self._error(sender, reply, "", f"packet size {size} outside 1-{MAX_PACKET} bytes", None)
                            return  # the stream cannot be resynchronised
                        if len(buffer) < 4 + size:
                            break
                        packet, buffer = buffer[4 : 4 + size], buffer[4 + size :]
                        self.handle_packet(packet, sender, reply)

    # -- routing -------------------------------------------------------------
    def _allowed(self, address: str) -> bool:
        if not self._networks:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self._networks)

    def handle_packet(self, data: bytes, sender: tuple[str, int], reply: Callable[[bytes], None]) -> None:
        counters = self.counters
        counters.packets += 1
        if not self._allowed(sender[0]):
            counters.refused += 1
            return
        if len(data) > MAX_PACKET:
            self._error(sender, reply, "", f"packet of {len(data)} bytes is larger than {MAX_PACKET}", None)
            return
        try:
            messages = timed_messages(data)
        except PacketError as exc:
            self._error(sender, reply, "", str(exc), None)
            return
        for due, address, args in messages:
            counters.messages += 1
            self.dispatch(address, args, due, sender, reply)

    def dispatch(
        self, address: str, args: list, due: float | None, sender: tuple[str, int], reply: Callable[[bytes], None]
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
            replies = route.handler(self.host, Request(address, args, due, sender))
        except ValueError as exc:
            self._error(sender, reply, address, str(exc), args)
            return
        except Exception:  # a bug in a handler must not stop the server or the music
            log.exception("OSC handler for %s failed", address)
            self._error(sender, reply, address, "internal error (logged)", args)
            return
        for reply_address, reply_args in replies or ():
            reply(encode(reply_address, reply_args))

    def _error(self, sender: tuple[str, int], reply: Callable[[bytes], None], address: str, reason: str, args: list | None) -> None:
        self.counters.errors += 1
        with self._budget_lock:
            allowed = self._budget.allow(sender[0], time.monotonic())
        if not allowed:
            self.counters.errors_suppressed += 1
            return
        shown = "" if args is None else " " + repr(args)[:120]
        log.warning("OSC from %s:%d: %s%s: %s", sender[0], sender[1], address or "(packet)", shown, reason)
        reply(encode(f"{ROOT}/error", [address, reason]))
