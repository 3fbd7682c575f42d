"""What the daemon may send to one UDP address, so that it amplifies nothing.

A UDP source address is a claim, not a fact: anyone can send `/mrt/sync` with a
victim's address as the source. So every byte that goes out over UDP (replies,
errors, state pushes) is charged to the destination address:

- a token bucket per address (`rate` bytes/s, one second of burst), whoever it is
  (loopback too: a local flood of syncs must not keep the OSC worker sending);
- for an address that has not proven it is the sender, replies are also bounded
  by the bytes that address sent us (credit that requests earn and replies spend,
  `ratio` 1), so a spoofed request returns at most its own size: no amplification
  at all (a 16-byte /mrt/status once drew 116 bytes). A packet earns its credit
  once, however many replies it draws (a bundle of five pings and a sync is one
  request, not six);
- state pushes go only to a proven address (a spoofed 20-byte /mrt/subscribe once
  drew 3.2 MB over its lease), bounded by the bucket, and last only as long as the
  subscription's lease, which only a message from that address renews.

An address proves itself by completing a TCP handshake (a spoofer cannot) or by
echoing a cookie: `/mrt/hello 0` (20 bytes) answers `/mrt/hello <cookie>` (20 bytes:
no larger than the request) and `/mrt/hello <cookie>` from the same address proves
it (answered by the 20-byte `/mrt/hello/ok`); a bare `/mrt/hello` is 16 bytes, so it
is answered only from credit earlier requests left. The cookie is the same for an
address as long as the daemon runs, so a client re-proves by echoing it again. The
cookie has 24 bits, so that Pd and Max, whose numbers are 32-bit floats, echo
it exactly; guessing it blind is bounded instead: an address that sent
`WRONG_COOKIES` wrong ones is refused, right cookie or not, for `WRONG_COOKIE_S`
(16.7 million cookies at 5 a minute is over six years).
Loopback is trusted by default: packets from 127/8 cannot arrive from another
host, and local tools (`mrtd send`, `mrtd status`) need the whole reply. Its budget
is kept per (address, port), so a local flood from one port cannot starve
`mrtd status` from another (no other host can send from 127/8, so nobody spoofs
the ports).
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

from mrtd.inputs.bucket import TokenBucket

RATE_BYTES_PER_S = 64 * 1024  # what any one address can draw, proven or not
UNPROVEN_RATIO = 1.0  # reply bytes per request byte for an address that has not proven itself: never more
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
    __slots__ = ("bytes", "seen", "credit", "proven_until", "wrong", "wrong_since")

    def __init__(self, now: float, rate: float) -> None:
        self.bytes = TokenBucket(rate, now=now)  # reply bytes a second, one second of burst
        self.seen = now  # when a reply was last charged here: the longest idle are forgotten first
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
        return (int.from_bytes(digest[:4], "big") & ((1 << COOKIE_BITS) - 1)) or 1  # 0 asks for one

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

    def allow_reply(self, ip: str, nbytes: int, port: int = 0) -> bool:
        """May `nbytes` of replies go to `ip` (at `port`) now? Charges them if so."""
        return self._charge(ip, nbytes, reply=True, port=port)

    def exhausted(self, ip: str, port: int = 0) -> bool:
        """True when nothing could go to `ip` (at `port`) now: skip building a large reply at all."""
        now = self._clock()
        with self._lock:
            account = self._accounts.get(ip)
            rated = self._accounts.get(self._bucket_key(ip, port))
            if account is None or rated is None:
                return not self.trusted(ip) and (account is None or account.proven_until <= now)
            proven = self.trusted(ip) or account.proven_until > now
            return rated.bytes.level(now) <= 0 or (not proven and account.credit <= 0)

    def allow_push(self, ip: str, nbytes: int, port: int = 0) -> bool:
        """State pushes to a subscriber: only to a proven address (a spoofed subscription draws
        nothing; one whose proof lapsed waits for the next), within the address's bucket."""
        if not self.proven(ip):
            with self._lock:
                self.counters.packets_held += 1
            return False
        return self._charge(ip, nbytes, reply=False, port=port)

    @staticmethod
    def _bucket_key(ip: str, port: int) -> str:
        """Whose byte bucket a reply to `ip`:`port` spends: the address's, except on loopback, where
        each port is a local tool of its own (a flood from one cannot starve `mrtd status`)."""
        if port:
            try:
                if ipaddress.ip_address(ip).is_loopback:
                    return f"{ip}:{port}"
            except ValueError:
                pass
        return ip

    def _charge(self, ip: str, nbytes: int, reply: bool, port: int = 0) -> bool:
        now = self._clock()
        trusted = self.trusted(ip)
        with self._lock:
            account = self._account(ip, now)  # proof and credit: the address's
            key = self._bucket_key(ip, port)
            rated = account if key == ip else self._account(key, now)  # the rate: the address's, or the port's on loopback
            rated.seen = account.seen = now
            proven = trusted or account.proven_until > now
            unproven = reply and not proven
            # A proven address may overdraw once (one large sync), then waits: the rate holds in the
            # long run, and even loopback cannot make the sender thread spend its time sending.
            if (unproven and account.credit < nbytes) or not rated.bytes.take(now, nbytes, overdraw=proven):
                self.counters.packets_held += 1
                return False
            if unproven:
                account.credit -= nbytes
            self.counters.bytes_sent += nbytes
            return True

    def _account(self, ip: str, now: float) -> _Account:
        account = self._accounts.get(ip)
        if account is None:
            if len(self._accounts) >= MAX_ADDRESSES:  # forget the longest idle half
                idle = sorted(self._accounts, key=lambda k: self._accounts[k].seen)
                for key in idle[: MAX_ADDRESSES // 2]:
                    del self._accounts[key]
            account = self._accounts[ip] = _Account(now, self.rate)
        return account
