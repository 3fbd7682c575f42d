"""A real OSC client on loopback that records what it sent and what came back (cf. supriya's capture)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from mrtd.vocabulary.codec import float32_text


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


T = TypeVar("T")

SHOWN_LINES = 60  # a transcript in an assertion message shows its last this many entries


@dataclass(frozen=True)
class Entry:
    """One message the probe saw: which way it went, what it said, and when (by the transcript's clock).

    A bundle the probe sent is one entry at "#bundle", its args the (address, args) it carried, in
    order; a packet that is neither message nor bundle (garbage on purpose) is one entry at "#raw".
    """

    index: int  # its place in the whole transcript, from 0
    direction: str  # "sent" | "received"
    address: str
    args: list[Any]
    time: float
    timetag: float | None = None  # a sent bundle's

    @property
    def message(self) -> tuple[str, list[Any]]:
        return self.address, self.args

    def line(self, origin: float = 0.0) -> str:
        arrow = "->" if self.direction == "sent" else "<-"
        if self.address == "#bundle":
            at = "now" if self.timetag is None else f"{self.timetag:.3f}"
            shown = f"#bundle @{at} [" + "; ".join(f"{a} {_show(args)}".rstrip() for a, args in self.args) + "]"
        else:
            shown = f"{self.address} {_show(self.args)}".rstrip()
        return f"{self.time - origin:9.3f}s {arrow} {shown}"

    def __str__(self) -> str:
        return self.line()


def _show(args: Iterable[Any]) -> str:
    def one(value: Any) -> str:
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>" if len(value) > 16 else repr(value)
        if isinstance(value, float):
            return float32_text(value)  # OSC floats are 32-bit: 1.1, not 1.100000023841858
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..." + text[-1]

    return " ".join(one(value) for value in args)


class Entries:
    """Queries over entries in the order the probe saw them; what `since`, `after` and a live
    `Transcript` share. The answers are about what was *received* unless a name says "sent"."""

    def _entries(self) -> tuple[Entry, ...]:
        raise NotImplementedError

    @property
    def _origin(self) -> float:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def __getitem__(self, k: int) -> Entry:
        return self._entries()[k]

    def since(self, mark: int) -> Excerpt:
        """The entries from `mark` (a `Transcript.mark()`) on."""
        return Excerpt(tuple(e for e in self._entries() if e.index >= mark), self._origin)

    def after(self, entry: Entry) -> Excerpt:
        """The entries after `entry` (not it)."""
        return self.since(entry.index + 1)

    def received(self, address: str | None = None) -> list[Entry]:
        return [e for e in self._entries() if e.direction == "received" and address in (None, e.address)]

    def sent(self, address: str | None = None) -> list[Entry]:
        return [e for e in self._entries() if e.direction == "sent" and address in (None, e.address)]

    def messages(self) -> list[tuple[str, list[Any]]]:
        """(address, args) of everything received, in order."""
        return [e.message for e in self.received()]

    def addresses(self) -> list[str]:
        """The address of everything received, in order."""
        return [e.address for e in self.received()]

    def args_of(self, address: str) -> list[list[Any]]:
        """The args of every `address` received, in order."""
        return [e.args for e in self.received(address)]

    def count(self, address: str) -> int:
        """How many `address` were received."""
        return len(self.received(address))

    def first(self, address: str, args: list[Any] | None = None) -> Entry | None:
        """The first `address` received (with exactly these `args`, when given), or None."""
        return next((e for e in self.received(address) if args is None or e.args == args), None)

    def __str__(self) -> str:
        entries = self._entries()
        lines = [e.line(self._origin) for e in entries[-SHOWN_LINES:]]
        if len(entries) > SHOWN_LINES:
            lines.insert(0, f"  ... {len(entries) - SHOWN_LINES} earlier entries")
        return "\n".join(lines) if lines else "  (nothing sent or received)"


class Excerpt(Entries):
    """A fixed run of a transcript's entries (what `since` and `after` return)."""

    def __init__(self, entries: tuple[Entry, ...], origin: float) -> None:
        self.__entries = entries
        self.__origin = origin

    def _entries(self) -> tuple[Entry, ...]:
        return self.__entries

    @property
    def _origin(self) -> float:
        return self.__origin


class Transcript(Entries):
    """What a probe sent and received, in the order it saw them, each stamped by `clock`
    (time.monotonic unless injected). Thread-safe: the probe's receiver records into it while a
    test queries it, and `wait_for` wakes on every new entry (no polling).

        mark = probe.transcript.mark()
        probe.send("/mrt/sync")
        count = probe.transcript.wait_for_first("/mrt/synced", since=mark).args[0]
        assert len(probe.transcript.since(mark).received()) == count + 1, probe.transcript.since(mark)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.__origin = clock()
        self.__list: list[Entry] = []
        self._changed = threading.Condition(threading.RLock())

    def _entries(self) -> tuple[Entry, ...]:
        with self._changed:
            return tuple(self.__list)

    @property
    def _origin(self) -> float:
        return self.__origin

    def record(self, direction: str, address: str, args: list[Any], timetag: float | None = None) -> Entry:
        assert direction in ("sent", "received"), direction
        with self._changed:
            entry = Entry(len(self.__list), direction, address, list(args), self.clock(), timetag)
            self.__list.append(entry)
            self._changed.notify_all()
            return entry

    def mark(self) -> int:
        """A place in the transcript: `since(mark)` is what was recorded from now on."""
        with self._changed:
            return len(self.__list)

    def wait_for(self, predicate: Callable[[Excerpt], T], timeout: float = 5.0, what: str = "", since: int = 0) -> T:
        """Wait until `predicate(self.since(since))` is truthy and return it; on timeout fail
        showing the conversation since the mark."""
        result: Any = None

        def holds() -> Any:
            nonlocal result
            result = predicate(Excerpt(tuple(self.__list[since:]), self.__origin))
            return result

        with self._changed:
            if not self._changed.wait_for(holds, timeout):
                raise AssertionError(f"no {what or 'match'} within {timeout}s; since the mark:\n{self.since(since)}")
            return result

    def wait_for_first(self, address: str, args: list[Any] | None = None, since: int = 0,
                       timeout: float = 5.0, what: str = "") -> Entry:
        """The first `address` (with exactly `args`, when given) received from `since` on, once it is."""
        wanted = what or (address if args is None else f"{address} {_show(args)}")
        return self.wait_for(lambda seen: seen.first(address, args), timeout, wanted, since)


def _recorded(packet: bytes) -> tuple[str, list[Any], float | None]:
    """How a packet the probe sends is written in its transcript: (address, args, timetag)."""
    def contents(b: OscBundle) -> list[tuple[str, list[Any]]]:
        out: list[tuple[str, list[Any]]] = []
        for part in b:
            out.extend(contents(part) if isinstance(part, OscBundle) else [(part.address, list(part.params))])
        return out

    try:
        if OscBundle.dgram_is_bundle(packet):
            b = OscBundle(packet)
            return "#bundle", contents(b), (None if b.timestamp == IMMEDIATELY else b.timestamp)
        shown = OscMessage(packet)
        return shown.address, list(shown.params), None
    except Exception:  # noqa: BLE001 - garbage on purpose
        return "#raw", [packet[:64]], None


class OscProbe:
    """Sends from one UDP socket and records, in order, what went out and what came back.

    `transcript` (a `Transcript`) holds what went out and what came back, in the order the probe
    saw them, with the queries a test asserts with (`since(mark)`, `first`, `count`, `wait_for`...)
    and a one-line-per-message `str` for assertion messages. `exchange()` sends a message fenced
    by a ping and returns exactly what the daemon answered to it (the daemon handles one socket's
    datagrams in order), so a test asserts the whole conversation instead of counting replies.
    `received` (address, args) and `sent` (packets) are the older, plain lists.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", clock: Callable[[], float] = time.monotonic,
                 local: str = "127.0.0.1") -> None:
        """`local`: the address it sends from (127.0.0.2 is a second sender on the same loopback)."""
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local, 0))
        self.port = self.sock.getsockname()[1]
        self.sent: list[bytes] = []
        self.received: list[tuple[str, list[Any]]] = []
        self.transcript = Transcript(clock)
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
                self.transcript.record("received", msg.address, list(msg.params))
                self._arrived.notify_all()

    def send_raw(self, packet: bytes) -> None:
        self.sent.append(packet)
        address, args, timetag = _recorded(packet)
        with self._arrived:
            self.transcript.record("sent", address, args, timetag)
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
                raise AssertionError(f"no {wanted} within {timeout}s; the conversation:\n{self.transcript}")

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
                raise AssertionError(f"no {address} within {timeout}s; the conversation:\n{self.transcript}")
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
