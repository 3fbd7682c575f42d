"""Refused senders in the log: who and why, without letting a flood write the log.

An operator whose tablet gets 403, or whose laptop's OSC goes unanswered, needs
one line naming the address and the reason. A scanner or a flood from many
addresses must not fill the disk: each address is named at most once per
`interval_s`; what that holds back is counted and summed up in one line
("N more refused from M addresses") once per interval, at the next refusal or
`flush()`. Memory is bounded: at most `max_addresses` are remembered; refusals
from more are only counted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

INTERVAL_S = 60.0  # one line per address per minute
MAX_ADDRESSES = 1024


class RefusalLog:
    """Thread-safe (OSC's UDP and TCP threads share one)."""

    def __init__(self, what: str, logger: logging.Logger, interval_s: float = INTERVAL_S,
                 max_addresses: int = MAX_ADDRESSES, clock: Callable[[], float] = time.monotonic) -> None:
        """`what`: the surface, first in each line ("web", "OSC")."""
        self.what, self._log, self.interval_s, self.max_addresses = what, logger, interval_s, max_addresses
        self.clock = clock  # public: tests drive it
        self._named: dict[str, float] = {}  # address -> when it was last named
        self._held = 0  # refusals not named since the last summary
        self._held_from: set[str] = set()  # their addresses (bounded like _named)
        self._summed_at = clock()
        self._next_forget = -float("inf")  # when the oldest named address may be forgotten
        self._lock = threading.Lock()
        self.total = 0

    def refused(self, address: str, why: str) -> None:
        now = self.clock()
        with self._lock:
            self.total += 1
            last = self._named.get(address)
            if last is not None and now - last < self.interval_s:
                self._hold(address)
            elif last is None and len(self._named) >= self.max_addresses and not self._forget(now):
                self._hold(address)  # too many addresses at once: counted, not named
            else:
                self._named[address] = now
                self._log.warning("%s: refused %s: %s", self.what, address, why)
            self._sum_up(now)

    def flush(self, final: bool = False) -> None:
        """Write the summary if one is due (a periodic caller), or whatever is held (`final`: at stop)."""
        with self._lock:
            self._sum_up(self.clock(), force=final)

    def _hold(self, address: str) -> None:
        self._held += 1
        if len(self._held_from) < self.max_addresses:
            self._held_from.add(address)

    def _forget(self, now: float) -> bool:
        """Drop the addresses named longer than an interval ago; True if room was made. Scans at
        most once per expiry of the oldest (a flood of new addresses must not scan every packet)."""
        if now < self._next_forget:
            return False
        for address in [a for a, at in self._named.items() if now - at >= self.interval_s]:
            del self._named[address]
        self._next_forget = min(self._named.values(), default=now) + self.interval_s
        return len(self._named) < self.max_addresses

    def _sum_up(self, now: float, force: bool = False) -> None:
        if not self._held or (not force and now - self._summed_at < self.interval_s):
            return
        addresses = len(self._held_from)
        self._log.warning("%s: %d more refused from %s%d address%s in the last %.0f s", self.what, self._held,
                          "at least " if addresses >= self.max_addresses else "", addresses,
                          "" if addresses == 1 else "es", now - self._summed_at)
        self._held, self._held_from, self._summed_at = 0, set(), now
