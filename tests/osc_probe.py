"""A real OSC client on loopback that records what it sent and what came back (cf. supriya's capture)."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def message(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address=address)
    for value in args:
        if isinstance(value, float):
            builder.add_arg(value, "f")
        elif isinstance(value, bool):
            builder.add_arg(value)
        elif isinstance(value, int):
            builder.add_arg(value, "i")
        elif isinstance(value, bytes):
            builder.add_arg(value, "b")
        else:
            builder.add_arg(value)
    return builder.build().dgram


def bundle(timetag: float | None, *messages: bytes) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY if timetag is None else timetag)
    for dgram in messages:
        builder.add_content(OscMessage(dgram))
    return builder.build().dgram


class OscProbe:
    """Sends from one UDP socket and records, in order, what went out and what came back.

    `transcript` holds ("sent" | "received", address, args) in the order the probe saw them;
    `exchange()` sends a message fenced by a ping and returns exactly what the daemon answered
    to it (the daemon handles one socket's datagrams in order), so a test asserts the whole
    conversation instead of counting replies.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent: list[bytes] = []
        self.received: list[tuple[str, list[Any]]] = []
        self.transcript: list[tuple[str, str, list[Any]]] = []
        self._fences = 0
        self._arrived = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            msg = OscMessage(data)
            with self._arrived:
                self.received.append((msg.address, list(msg.params)))
                self.transcript.append(("received", msg.address, list(msg.params)))
                self._arrived.notify_all()

    def send_raw(self, packet: bytes) -> None:
        self.sent.append(packet)
        with self._arrived:
            try:
                shown = OscMessage(packet)
                self.transcript.append(("sent", shown.address, list(shown.params)))
            except Exception:  # noqa: BLE001 - a bundle or garbage on purpose: recorded as bytes
                self.transcript.append(("sent", "", [packet[:64]]))
        self.sock.sendto(packet, self.target)

    def exchange_raw(self, packet: bytes, timeout: float = 5.0) -> list[tuple[str, list[Any]]]:
        """Send `packet`, then a ping; everything received after the packet and before its pong."""
        self._fences += 1
        fence = f"fence-{self._fences}"
        start = len(self.received)
        self.send_raw(packet)
        self.send("/mrt/ping", fence)
        self.wait_for_message(("/mrt/pong", [fence]), timeout, start)
        answered = self.received[start:]
        return answered[: answered.index(("/mrt/pong", [fence]))]

    def exchange(self, address: str, *args: Any, timeout: float = 5.0) -> list[tuple[str, list[Any]]]:
        """Send one message; what the daemon answered to it, in order (nothing else)."""
        return self.exchange_raw(message(address, *args), timeout)

    def wait_for_message(self, wanted: tuple[str, list[Any]], timeout: float = 5.0, start: int = 0) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: wanted in self.received[start:], timeout):
                raise AssertionError(f"no {wanted} within {timeout}s; got {[a for a, _ in self.received[start:]]}")

    def send(self, address: str, *args: Any) -> None:
        self.send_raw(message(address, *args))

    def wait_for(self, address: str, timeout: float = 5.0, start: int = 0) -> list[Any]:
        """Arguments of the first reply to `address` received at index >= start."""
        def find():
            for addr, args in self.received[start:]:
                if addr == address:
                    return args
            return None

        with self._arrived:
            if not self._arrived.wait_for(lambda: find() is not None, timeout):
                raise AssertionError(f"no {address} within {timeout}s; got {[a for a, _ in self.received]}")
            return find()

    def request(self, address: str, reply: str, *args: Any, timeout: float = 5.0) -> list[Any]:
        start = len(self.received)
        self.send(address, *args)
        return self.wait_for(reply, timeout, start)

    def close(self) -> None:
        self._closed = True
        self.sock.close()


def tcp_packet(packet: bytes) -> bytes:
    return struct.pack(">i", len(packet)) + packet
