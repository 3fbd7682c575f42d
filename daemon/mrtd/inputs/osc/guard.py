"""What the daemon may send to one UDP address, so that it amplifies nothing.

A UDP source address is a claim, not a fact: anyone can send `/mrt/sync` with a
victim's address as the source. So every byte that goes out over UDP (replies,
errors, state pushes) is charged to the destination address:

- a token bucket per address (`rate` bytes/s, one second of burst), whoever it is
  (loopback too: a local flood of syncs must not keep the OSC worker sending);
- for an address that has not proven it is the sender, replies are also bounded
  by `ratio` times the bytes that address sent us (credit that requests earn and
  replies spend), so a spoofed request returns at most `ratio` times its size.
  A packet earns its credit once, however many replies it draws (a bundle of
  five pings and a sync is one request, not six);
- state pushes are bounded by the bucket alone, and last only as long as the
  subscription's lease, which only a message from that address renews.

An address proves itself by completing a TCP handshake (a spoofer cannot) or by
echoing a cookie: `/mrt/hello` answers `/mrt/hello <cookie>` (no larger than the
request allows) and `/mrt/hello <cookie>` from the same address proves it. The
cookie has 24 bits, so that Pd and Max, whose numbers are 32-bit floats, echo
it exactly; guessing it blind is bounded instead: an address that sent
`WRONG_COOKIES` wrong ones is refused, right cookie or not, for `WRONG_COOKIE_S`
(16.7 million cookies at 5 a minute is over six years).
Loopback is trusted by default: packets from 127/8 cannot arrive from another
host, and local tools (`mrtd send`, `mrtd status`) need the whole reply.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

RATE_BYTES_PER_S = 64 * 1024  # what any one address can draw, proven or not
UNPROVEN_RATIO = 4.0  # reply bytes per request byte for an address that has not proven itself
UNPROVEN_CREDIT_MAX = 4096  # bytes of credit an unproven address may bank
PROOF_S = 600.0  # how long a proof lasts (a DHCP lease can move an address to someone else)
MAX_ADDRESSES = 4096  # addresses tracked; beyond this the oldest state is forgotten (it only restarts buckets)
COOKIE_BITS = 24  # exact in a 32-bit float (Pd, Max)
WRONG_COOKIES = 5  # wrong cookies an address may send per WRONG_COOKIE_S
WRONG_COOKIE_S = 60.0


@dataclass
class GuardCounters:
    bytes_sent: int = 0
    packets_held: int = 0  # replies or pushes not sent because the address had no budget left
    proofs: int = 0


class _Account:
    __slots__ = ("tokens", "stamp", "credit", "proven_until", "wrong", "wrong_since")

    def __init__(self, now: float, rate: float) -> None:
        self.tokens = rate
        self.stamp = now
        self.credit = 0.0
        self.proven_until = 0.0
        self.wrong = 0  # wrong cookies since wrong_since
        self.wrong_since = now


class ReplyGuard:
    def __init__(
        self,
        rate: float = RATE_BYTES_PER_S,
        ratio: float = UNPROVEN_RATIO,
        trust_loopback: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = float(rate)
        self.ratio = float(ratio)
        self.trust_loopback = trust_loopback
        self.counters = GuardCounters()
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()  # input threads and the pusher thread; never the generator
        self._secret = os.urandom(16)

    # -- who is who -----------------------------------------------------------------
    def trusted(self, ip: str) -> bool:
        if not self.trust_loopback:
            return False
        try:
            return ipaddress.ip_address(ip).is_loopback
        except ValueError:
            return False

    def cookie(self, ip: str) -> int:
        digest = hmac.new(self._secret, ip.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big") & ((1 << COOKIE_BITS) - 1)

    def check_cookie(self, ip: str, cookie: int) -> None:
        """Prove `ip` if `cookie` is its own; ValueError (saying why) if not, or if it guessed too often."""
        now = self._clock()
        with self._lock:
            account = self._account(ip, now)
            if now - account.wrong_since > WRONG_COOKIE_S:
                account.wrong, account.wrong_since = 0, now
            if account.wrong >= WRONG_COOKIES:
                raise ValueError(f"too many wrong cookies from this address: wait {WRONG_COOKIE_S:g} s")
            if cookie != self.cookie(ip):
                account.wrong += 1
                raise ValueError("wrong cookie: send /mrt/hello with no argument to get yours")
        self.prove(ip)

    def prove(self, ip: str) -> None:
        """The sender at `ip` showed it receives what we send there (TCP, or the cookie)."""
        with self._lock:
            self._account(ip, self._clock()).proven_until = self._clock() + PROOF_S
            self.counters.proofs += 1

    def proven(self, ip: str) -> bool:
        if self.trusted(ip):
            return True
        with self._lock:
            account = self._accounts.get(ip)
            return account is not None and account.proven_until > self._clock()

    # -- accounting -------------------------------------------------------------------
    def heard(self, ip: str, request_bytes: int) -> None:
        """A request arrived from `ip`: it earns reply credit (spent only while unproven)."""
        if self.trusted(ip):
            return
        with self._lock:
            account = self._account(ip, self._clock())
            account.credit = min(UNPROVEN_CREDIT_MAX, account.credit + self.ratio * request_bytes)

    def allow_reply(self, ip: str, nbytes: int) -> bool:
        """May `nbytes` of replies go to `ip` now? Charges them if so."""
        return self._charge(ip, nbytes, reply=True)

    def exhausted(self, ip: str) -> bool:
        """True when nothing could go to `ip` now: skip building a large reply at all."""
        now = self._clock()
        with self._lock:
            account = self._accounts.get(ip)
            if account is None:
                return not self.trusted(ip)  # unproven and no credit yet
            tokens = min(self.rate, account.tokens + (now - account.stamp) * self.rate)
            proven = self.trusted(ip) or account.proven_until > now
            return tokens <= 0 or (not proven and account.credit <= 0)

    def allow_push(self, ip: str, nbytes: int) -> bool:
        """State pushes to a subscriber: the per-address bucket only (the lease bounds them in time)."""
        return self._charge(ip, nbytes, reply=False)

    def _charge(self, ip: str, nbytes: int, reply: bool) -> bool:
        now = self._clock()
        trusted = self.trusted(ip)
        with self._lock:
            account = self._account(ip, now)
            account.tokens = min(self.rate, account.tokens + (now - account.stamp) * self.rate)
            account.stamp = now
            proven = trusted or account.proven_until > now
            unproven = reply and not proven
            # A proven address may overdraw once (one large sync), then waits: the rate holds in the
            # long run, and even loopback cannot make the sender thread spend its time sending.
            short = account.tokens <= 0 if proven else account.tokens < nbytes
            if short or (unproven and account.credit < nbytes):
                self.counters.packets_held += 1
                return False
            account.tokens -= nbytes
            if unproven:
                account.credit -= nbytes
            self.counters.bytes_sent += nbytes
            return True

    def _account(self, ip: str, now: float) -> _Account:
        account = self._accounts.get(ip)
        if account is None:
            if len(self._accounts) >= MAX_ADDRESSES:  # forget the longest idle half
                idle = sorted(self._accounts, key=lambda k: self._accounts[k].stamp)
                for key in idle[: MAX_ADDRESSES // 2]:
                    del self._accounts[key]
            account = self._accounts[ip] = _Account(now, self.rate)
        return account
