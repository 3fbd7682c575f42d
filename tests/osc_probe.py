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
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent: list[bytes] = []
        self.received: list[tuple[str, list[Any]]] = []
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
                self._arrived.notify_all()

    def send_raw(self, packet: bytes) -> None:
        self.sent.append(packet)
        self.sock.sendto(packet, self.target)

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
