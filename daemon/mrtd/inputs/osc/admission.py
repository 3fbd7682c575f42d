"""Who may send to the OSC server, how much, and what may go back to them.

Decided before a packet costs anything, and counted in the server's one
`OscCounters` (the transport and the dispatch count there too; this module is
the one both import, so the record lives here):

- the allow-list: off loopback only the configured networks are heard (loopback
  too unless `allow_loopback` is off); every refusal is counted and named in the
  log, at most once a minute per address (`RefusalLog`);
- TCP connections: at most `MAX_TCP_CONNECTIONS` open at once, and at most
  `tcp_per_address` from one address, so one host cannot hold every slot;
- the parse rate: at most `PARSE_PER_SECOND` packets parsed a second, all
  senders together, a bundle costing its messages (the rest are dropped and
  counted), so a flood costs the generation thread a bounded share of the
  interpreter;
- error replies: at most `ERRORS_PER_SECOND` per client (replies and log lines
  alike), so a broken or hostile sender cannot flood them back;
- what goes back over UDP: `ReplyGuard`, below.

Each rate is a `TokenBucket` (inputs/bucket.py).

`ReplyGuard`: what the daemon may send to one UDP address, so that it amplifies nothing.

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
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from mrtd.inputs.bucket import TokenBucket
from mrtd.inputs.refusals import RefusalLog

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Sender = tuple[str, int]  # (address, port) a packet came from

MAX_TCP_CONNECTIONS = 32  # open at once; more are closed at once (and counted)
MAX_TCP_PER_ADDRESS = 8  # open at once from one address, so one host cannot hold every slot
PARSE_PER_SECOND = 20000  # packets parsed per second, all senders together; above what a 2-core box parses, so the bounded queue usually sheds first
ERRORS_PER_SECOND = 20  # per client, replies and log lines alike
MAX_ERROR_CLIENTS = 10_000  # clients whose error budget is remembered; beyond this all are forgotten (they start full again)
RATE_BYTES_PER_S = 64 * 1024  # what any one address can draw, proven or not
UNPROVEN_RATIO = 1.0  # reply bytes per request byte for an address that has not proven itself: never more
UNPROVEN_CREDIT_MAX = 4096  # bytes of credit an unproven address may bank
PROOF_S = 600.0  # how long a proof lasts (a DHCP lease can move an address to someone else)
MAX_ADDRESSES = 4096  # addresses tracked; beyond this the oldest state is forgotten (it only restarts buckets)
COOKIE_BITS = 24  # exact in a 32-bit float (Pd, Max)
WRONG_COOKIES = 5  # wrong cookies an address may send per WRONG_COOKIE_S
WRONG_COOKIE_S = 60.0


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


def allow_networks(allow: list[str], bind: str) -> list[Network]:
    """The allow-list's networks; ValueError if one is not a network, or if a server bound off
    loopback has none (it would hear the whole network)."""
    try:
        networks = [ipaddress.ip_network(n, strict=False) for n in allow]
    except ValueError as exc:
        raise ValueError(f"OSC allow-list: {exc}") from None
    try:
        loopback = ipaddress.ip_address(bind).is_loopback
    except ValueError:
        loopback = bind == "localhost"
    if not loopback and not networks:
        raise ValueError(f"binding OSC to {bind} needs an allow-list of client networks (e.g. --osc-allow 192.168.1.0/24)")
    return networks


class Admission:
    """The server's gate: the transport asks it before queueing a packet or keeping a connection,
    the dispatch before parsing and before answering an error; `guard` decides what goes back."""

    def __init__(self, counters: OscCounters, allow: list[str], networks: list[Network], allow_loopback: bool = True,
                 trust_loopback: bool = True, tcp_per_address: int = MAX_TCP_PER_ADDRESS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counters = counters
        self.guard = ReplyGuard(trust_loopback=trust_loopback)
        self.refusals = RefusalLog("OSC", log)  # who was refused and why, at most a line per address a minute
        self._allow, self._networks, self._allow_loopback = ",".join(allow), networks, allow_loopback
        self._clock = clock
        self._parse = TokenBucket(PARSE_PER_SECOND, now=clock())  # spent only by the one parse worker
        self._errors: dict[str, TokenBucket] = {}  # per client; the parse worker and TCP threads answer errors
        self._errors_lock = threading.Lock()
        self.tcp_per_address = tcp_per_address
        self.tcp_open = 0
        self._tcp_by_address: dict[str, int] = {}  # open connections per address (only those with one)
        self._tcp_lock = threading.Lock()

    # -- who ---------------------------------------------------------------------------
    def admits(self, sender: Sender) -> bool:
        """May `sender` talk to us? A refusal is counted and logged."""
        if self._allowed(sender[0]):
            return True
        self.counters.refused += 1
        self.refusals.refused(sender[0], f"not in the OSC allow-list {self._allow}")
        return False

    def _allowed(self, address: str) -> bool:
        if not self._networks:
            return True
        ip = ipaddress.ip_address(address)
        if self._allow_loopback and ip.is_loopback:
            return True
        return any(ip in network for network in self._networks)

    # -- how much ----------------------------------------------------------------------
    def open_tcp(self, ip: str) -> bool:
        """Count in one more connection from `ip`, or refuse it (counted) when it would pass a bound."""
        with self._tcp_lock:
            mine = self._tcp_by_address.get(ip, 0)
            if self.tcp_open >= MAX_TCP_CONNECTIONS or mine >= self.tcp_per_address:
                self.counters.tcp_refused += 1
                return False
            self.tcp_open += 1
            self._tcp_by_address[ip] = mine + 1
            return True

    def close_tcp(self, ip: str) -> None:
        with self._tcp_lock:
            self.tcp_open -= 1
            left = self._tcp_by_address.get(ip, 1) - 1
            if left > 0:
                self._tcp_by_address[ip] = left
            else:
                self._tcp_by_address.pop(ip, None)

    def may_parse(self) -> bool:
        """One more packet within the parse rate? One over it is dropped (counted)."""
        if self._parse.take(self._clock()):
            return True
        self.counters.dropped += 1
        return False

    def parsed(self, messages: int) -> None:
        """A packet held `messages`: a bundle costs its messages, not one packet, against the parse
        rate (a 2 kB bundle of 100 /mrt/sync must not do a hundred packets' work for one's price)."""
        self._parse.charge(messages - 1)  # the packet itself was paid for in `may_parse`

    def may_report(self, client: str) -> bool:
        """May one more error go back to (and be logged for) `client`? One over its rate is
        suppressed (counted)."""
        now = self._clock()
        with self._errors_lock:
            bucket = self._errors.get(client) or TokenBucket(ERRORS_PER_SECOND, now=now)
            if len(self._errors) > MAX_ERROR_CLIENTS:  # forget idle clients rather than grow without bound
                self._errors.clear()
            self._errors[client] = bucket
            allowed = bucket.take(now)
        if not allowed:
            self.counters.errors_suppressed += 1
        return allowed


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
