"""State pushes to subscribed clients, at most once per frame per address.

The generation thread hands each frame's changed messages to `publish`, which
only puts them on a queue; a pusher thread does the network I/O. A subscriber
is dropped when its host refuses the packets (the port closed) or when it has
not been heard from for `lease_s` (any message from that address renews the
lease), so a subscription made with a spoofed source lapses on its own.
Subscribers are bounded in number, in total and per host, and every push is
charged to the destination address's UDP budget (`ReplyGuard`). A
subscription needs an address that proved it is the sender (`/mrt/hello`'s
cookie, or TCP; loopback needs none), and its pushes stop while the proof has
lapsed (a client echoes its cookie again to renew it). A long prompt list goes out in
`/mrt/prompts/part`s as /mrt/sync sends it, and a message that still does not
fit a datagram is counted and skipped: it says nothing about the subscriber.
"""

from __future__ import annotations

import errno
import logging
import queue
import socket
import threading
import time
from typing import Any, Protocol

from mrtd.vocabulary.codec import encode
from mrtd.vocabulary.replies import in_datagrams
from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

LEASE_S = 90.0  # clients renew by sending anything; TouchOSC's script renews every minute
MAX_SUBSCRIBERS = 64
MAX_PER_HOST = 8


class PushBudget(Protocol):
    """What the pusher asks of OSC's reply guard (named here: feedback imports no input)."""

    def allow_push(self, ip: str, nbytes: int, port: int = 0) -> bool: ...
    def proven(self, ip: str) -> bool: ...


class Pusher:
    def __init__(self, lease_s: float = LEASE_S, clock=time.monotonic) -> None:
        self.lease_s = lease_s
        self._clock = clock
        self._subscribers: dict[tuple[str, int], tuple[socket.socket, float]] = {}
        self._lock = threading.Lock()  # subscribers change from input threads; never held by the generator
        self._queue: queue.SimpleQueue[dict[str, list[Any]] | None] = queue.SimpleQueue()
        # Ends on the queue's None, which stop's wake puts behind what is queued.
        self._pusher = Worker("mrtd-feedback", self._run, wake=lambda: self._queue.put(None))
        self.sent = 0
        self.held = 0  # pushes not sent: the address was over its budget
        self.dropped_subscribers = 0
        self.too_large = 0  # messages skipped because no datagram holds them (EMSGSIZE)
        self.unencodable = 0  # frames whose messages could not be encoded (a value out of an OSC int's range)
        self.guard: PushBudget | None = None  # OSC's ReplyGuard, set by the daemon when OSC is on

    def start(self) -> None:
        self._pusher.start()

    def stop(self) -> None:
        self._pusher.stop()
        with self._lock:
            for sock, _ in self._subscribers.values():
                sock.close()
            self._subscribers.clear()

    # -- input threads ---------------------------------------------------------
    def subscribe(self, host: str, port: int) -> None:
        """Push state changes to `host`:`port`; ValueError saying why not (bounds, or no proof)."""
        with self._lock:
            if (host, port) in self._subscribers:
                sock = self._subscribers[(host, port)][0]  # a renewal: any message would renew it anyway
            else:
                # Only a proven address: a spoofed 20-byte /mrt/subscribe once drew 3.2 MB of pushes
                # toward its victim over the lease. The refusal is small enough for the reply
                # budget an unproven address has earned (so the sender may hear it, never more).
                guard = self.guard
                if guard is not None and not guard.proven(host):
                    raise ValueError("send /mrt/hello first")
                if len(self._subscribers) >= MAX_SUBSCRIBERS:
                    raise ValueError(f"{MAX_SUBSCRIBERS} subscribers already; unsubscribe one first")
                if sum(1 for h, _ in self._subscribers if h == host) >= MAX_PER_HOST:
                    raise ValueError(f"{host} has {MAX_PER_HOST} subscriptions already")
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.connect((host, port))  # connected: a closed port reports back as refused
            self._subscribers[(host, port)] = (sock, self._clock())
        log.info("subscriber %s:%d", host, port)

    def unsubscribe(self, host: str, port: int) -> None:
        with self._lock:
            entry = self._subscribers.pop((host, port), None)
        if entry:
            entry[0].close()

    def heard_from(self, host: str) -> None:
        """Any message from a host renews its subscriptions' lease."""
        now = self._clock()
        with self._lock:
            for key, (sock, _) in self._subscribers.items():
                if key[0] == host:
                    self._subscribers[key] = (sock, now)

    def subscribers(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._subscribers)

    # -- generation thread -----------------------------------------------------
    def publish(self, messages: dict[str, list[Any]]) -> None:
        if messages and self._subscribers:
            self._queue.put(messages)  # never blocks

    # -- pusher thread -----------------------------------------------------------
    def _run(self) -> None:
        while True:
            messages = self._queue.get()
            if messages is None:
                return
            try:
                packets = [encode(a, args) for address, value in messages.items() for a, args in in_datagrams(address, value)]
            except Exception:  # a value no OSC argument holds: skip this frame's push, never the thread
                self.unencodable += 1
                if self.unencodable & (self.unencodable - 1) == 0:  # the 1st, 2nd, 4th, ...: it may recur every frame
                    log.exception("a push could not be encoded: skipped (%d so far)", self.unencodable)
                continue
            now = self._clock()
            with self._lock:
                targets = list(self._subscribers.items())
            for key, (sock, renewed) in targets:
                if now - renewed > self.lease_s:
                    self._drop(key, "lease expired")
                    continue
                guard = self.guard
                if guard is not None and not guard.allow_push(key[0], sum(map(len, packets)), key[1]):
                    self.held += 1  # over this address's budget: this frame's push is skipped
                    continue
                for packet in packets:
                    try:
                        sock.send(packet)
                        self.sent += 1
                    except OSError as exc:
                        if exc.errno == errno.EMSGSIZE:  # this message, not the subscriber: skip it
                            self._too_large(key, len(packet))
                            continue
                        self._drop(key, exc.strerror or str(exc))  # ConnectionRefusedError: nobody listens there
                        break

    def _too_large(self, key: tuple[str, int], size: int) -> None:
        self.too_large += 1
        if self.too_large & (self.too_large - 1) == 0:  # the 1st, 2nd, 4th, ...: a crossfade would log every frame
            log.warning("a %d-byte push to %s:%d does not fit a UDP datagram: skipped (%d so far)", size, key[0], key[1], self.too_large)

    def _drop(self, key: tuple[str, int], why: str) -> None:
        with self._lock:
            entry = self._subscribers.pop(key, None)
        if entry:
            entry[0].close()
            self.dropped_subscribers += 1
            log.info("dropped subscriber %s:%d (%s)", key[0], key[1], why)
