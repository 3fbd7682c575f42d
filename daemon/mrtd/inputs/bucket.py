"""The one token bucket every rate limit on an input spends from.

OSC's parse rate (packets a second, all senders), its error replies (per client),
its reply bytes (per UDP address, `ReplyGuard`) and the web page's messages and
error replies (per page) are each a `TokenBucket`: `rate` tokens a second, at
most `burst` banked, full at the start. Time is handed in (`now`), so one clock
reading serves a whole decision and tests move time themselves. Not locked: an
owner whose bucket several threads spend holds its own lock.
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float | None = None, now: float = 0.0) -> None:
        """`burst`: tokens banked at most (None: one second's worth)."""
        self.rate = float(rate)
        self.burst = self.rate if burst is None else float(burst)
        self.tokens = self.burst
        self.stamp = now

    def level(self, now: float) -> float:
        """Tokens banked at `now` (negative while an overdraw is paid back); changes nothing."""
        return min(self.burst, self.tokens + (now - self.stamp) * self.rate)

    def take(self, now: float, cost: float = 1.0, overdraw: bool = False) -> bool:
        """Spend `cost` if the bucket holds it; False (nothing spent) if not. `overdraw`: spend it
        whenever anything at all is banked, going below zero (one large reply, then a wait)."""
        self.tokens, self.stamp = self.level(now), now
        if (self.tokens <= 0.0) if overdraw else (self.tokens < cost):
            return False
        self.tokens -= cost
        return True

    def charge(self, cost: float) -> None:
        """Spend `cost` whatever is banked (work already done is still paid for), going at most
        one burst into debt, so a single huge charge cannot lock the bucket for long."""
        self.tokens = max(-self.burst, self.tokens - cost)
