"""OSC's sockets and threads: UDP datagrams and TCP streams in, replies back out.

Receive paths never sleep and never parse: the receive threads only read bytes
and queue them (a bounded queue: a full one drops and counts the packet); one
worker thread takes them off, within admission's parse rate, and hands them to
the dispatch, so a flood costs the generation thread one thread's share of the
interpreter. TCP carries OSC 1.0 (an int32 size before each packet) or OSC 1.1
(SLIP frames), told apart by a stream's first byte; its connections are closed
when they make no progress: a message must finish within `tcp_message_s` of its
first byte, and a connection that finishes none for `tcp_idle_s` is closed,
however many bytes it drips. Replies go back the way the request came: over TCP
without ever blocking on a client that does not read, over UDP within what
admission's `ReplyGuard` lets go to that address.
"""

from __future__ import annotations

import errno
import logging
import math
import queue
import socket
import struct
import threading
import time

from mrtd.inputs.osc.admission import Admission, OscCounters, Sender
from mrtd.inputs.osc.dispatch import MAX_PACKET, Dispatcher, Reply
from mrtd.lifecycle import Worker, release_free_memory, spawn
from mrtd.vocabulary.codec import SLIP_END, encode, size_prefix, slip_decode, slip_encode
from mrtd.vocabulary.replies import Error

log = logging.getLogger(__name__)

QUEUE_PACKETS = 1024  # packets waiting to be parsed; beyond this they are dropped (and counted)
# Progress, not mere bytes: 32 connections dripping a byte every 100 s once held every slot for
# ever (the old timeout counted only total silence). A connection must finish each message
# within TCP_MESSAGE_S of its first byte, and one that finishes none for TCP_IDLE_S is closed.
TCP_MESSAGE_S = 10.0
TCP_IDLE_S = 120.0
MAX_UDP_REPLY = 60000  # bytes; a reply message larger than one datagram is refused with an error naming TCP
TRIM_AFTER_PACKETS = 1000  # a burst this big, then TRIM_IDLE_S of quiet: hand freed memory back
TRIM_IDLE_S = 2.0
PORT_ZERO_TRIES = 20  # port 0: fresh UDP ports tried until TCP may have the same number


class Transport:
    def __init__(self, admission: Admission, dispatcher: Dispatcher, counters: OscCounters, bind: str, port: int,
                 tcp: bool = True, tcp_message_s: float = TCP_MESSAGE_S, tcp_idle_s: float = TCP_IDLE_S) -> None:
        self.admission, self.dispatcher, self.counters = admission, dispatcher, counters
        self.bind, self.configured_port, self.tcp = bind, port, tcp
        self.tcp_message_s, self.tcp_idle_s = tcp_message_s, tcp_idle_s
        self._work: queue.Queue[tuple[bytes, Sender, Reply] | None] = queue.Queue(QUEUE_PACKETS)
        self._since_trim = 0  # packets and connections since freed memory was last handed back
        self._stop = threading.Event()
        self._workers: list[Worker] = []
        self.udp: socket.socket | None = None
        self._tcp: socket.socket | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        # Port 0 asks the system for a free UDP port; TCP then wants the same number, which some
        # other TCP socket (an outgoing connection's local port, say) may hold: pick again.
        tries = PORT_ZERO_TRIES if self.configured_port == 0 else 1
        for attempt in range(tries):
            try:
                self._bind()
                break
            except OSError as exc:
                self._close_sockets()
                if exc.errno == errno.EADDRINUSE and attempt + 1 < tries:
                    continue
                self.stop()
                raise OSError(f"cannot listen for OSC on {self.bind}:{self.configured_port}: "
                              f"{exc.strerror or exc} (is another mrtd running?)") from None
        # Each loop watches the one `_stop`; stop() sets it and closes the sockets (which ends
        # the receive and accept loops) before it stops these.
        self._workers = [Worker("mrtd-osc-parse", self._work_loop, wake=self._wake_parser),
                         Worker("mrtd-osc-udp", self._udp_loop)]
        if self._tcp is not None:
            self._workers.append(Worker("mrtd-osc-tcp", self._tcp_accept))
        for worker in self._workers:
            worker.start()

    def _bind(self) -> None:
        """The UDP socket and, when TCP is on, a listener on the same port number. Each is held
        as soon as it exists, so a failure part way leaves `_close_sockets` something to close."""
        udp = self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for bursts (a fader flood, a Tidal cycle's worth of events) while we parse.
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        udp.bind((self.bind, self.configured_port))
        if self.tcp:
            tcp = self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.bind, udp.getsockname()[1]))
            tcp.listen(16)

    def _close_sockets(self) -> None:
        for sock in (self.udp, self._tcp):
            if sock is not None:
                sock.close()
        self.udp = self._tcp = None

    @property
    def port(self) -> int:
        return self.udp.getsockname()[1] if self.udp else self.configured_port

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

    # -- in --------------------------------------------------------------------
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
            if sender is None or not self.admission.admits(sender):
                continue
            self._enqueue(data, sender, self._udp_replier(sender, len(data)))

    def _enqueue(self, data: bytes, sender: Sender, reply: Reply) -> None:
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
            if not self.admission.may_parse():
                continue
            data, sender, reply = item
            try:
                self.dispatcher.handle_packet(data, sender, reply)
            except Exception:  # never let one packet stop the worker
                log.exception("OSC packet from %s:%d failed", sender[0], sender[1])

    def _tcp_accept(self) -> None:
        assert self._tcp is not None
        while not self._stop.is_set():
            try:
                conn, sender = self._tcp.accept()
            except OSError:
                if self._stop.is_set():
                    return
                continue  # e.g. EMFILE: the bound below keeps us well under it
            if not self.admission.admits(sender) or not self.admission.open_tcp(sender[0]):
                conn.close()
                continue
            self.admission.guard.prove(sender[0])  # a completed handshake: the address is really the sender's
            self._since_trim += 1  # each connection's thread leaves memory behind too
            # Not a Worker, never joined: bounded by admission's connection quotas, each ends when its
            # client closes, when it makes no progress (tcp_message_s, tcp_idle_s), or once `_stop` is set.
            spawn("mrtd-osc-tcp-client", self._tcp_connection, conn, sender)

    def _tcp_connection(self, conn: socket.socket, sender: Sender) -> None:
        try:
            self._tcp_stream(conn, sender)
        finally:
            self.admission.close_tcp(sender[0])

    def _tcp_stream(self, conn: socket.socket, sender: Sender) -> None:
        """OSC 1.0 (int32 size prefix) or OSC 1.1 (SLIP), told apart by the first byte."""
        buffer = b""
        slip: bool | None = None
        send_lock = threading.Lock()
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
            self.dispatcher.error(sender, reply, "", reason, None)

        with conn:
            while not self._stop.is_set():
                now = time.monotonic()
                idle_left = last_whole + self.tcp_idle_s - now
                slow_left = math.inf if partial_since is None else partial_since + self.tcp_message_s - now
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

    # -- out -------------------------------------------------------------------
    def _udp_replier(self, to: Sender, request_bytes: int) -> Reply:
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

    def _udp_reply(self, packets: list[bytes], address: str, to: Sender, request_bytes: int) -> None:
        """Send one request's replies, or hold them all back with one short error saying why."""
        ip, guard = to[0], self.admission.guard
        if request_bytes:
            guard.heard(ip, request_bytes)
        reason = None
        if any(len(p) > MAX_UDP_REPLY for p in packets):
            reason = f"the reply does not fit a UDP datagram ({max(map(len, packets))} bytes): ask over TCP"
        elif not guard.allow_reply(ip, sum(map(len, packets)), to[1]):
            reason = "reply held back: this address is over its reply budget (send /mrt/hello 0, or use TCP)"
        if reason is not None:
            self.counters.replies_held += 1
            error = encode(*Error(address, reason).message())
            if address == Error.address or not guard.allow_reply(ip, len(error), to[1]):
                return
            packets = [error]
        for packet in packets:
            try:
                self.udp.sendto(packet, to)  # type: ignore[union-attr]
            except OSError:
                return  # the client went away; replies are best-effort
