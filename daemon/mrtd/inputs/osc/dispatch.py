"""From an OSC packet to the address table's handlers, and their answers back to the sender.

A packet (a message or a bundle, up to `MAX_PACKET` bytes) is decoded into
messages, each with the time it is due (a bundle's timetag, or None: now); each
goes to its row in the table (`table.py`), whose handler validates the arguments
and submits commands with that due time, never touching the engine and never
sleeping. What the handler returns is encoded and handed to the transport's
`Reply` for this sender. An address the table lacks goes to the scene's
controller mappings, then, if none listens on it, is answered as unknown.

Every bad input gets one `/mrt/error <address> <reason>` back and one log line
(both rate-limited per client by admission), and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Callable

from mrtd.inputs.osc.admission import Admission, OscCounters, Sender
from mrtd.inputs.osc.table import ROOT, ROUTES, Envelope, Host
from mrtd.vocabulary.codec import PacketError, encode, timed_messages
from mrtd.vocabulary.replies import Error

log = logging.getLogger(__name__)


def _not_from_python_osc(record: logging.LogRecord) -> bool:
    # python-osc logs a warning on the root logger for every odd type tag it parses. A
    # hostile or broken sender would flood the log (and, measured, starve the generator
    # into underruns); we report bad packets ourselves, rate-limited.
    return "pythonosc" not in record.pathname


logging.getLogger().addFilter(_not_from_python_osc)

MAX_PACKET = 16384  # bytes; a 768-float embedding is about 3.9 kB
ANSWERED_ONCE_PER_PACKET = frozenset({f"{ROOT}/sync", f"{ROOT}/status"})  # large replies: one per packet

Reply = Callable[[list[bytes], str], None]  # (encoded packets, the address they answer): back to one sender


class Dispatcher:
    def __init__(self, host: Host, admission: Admission, counters: OscCounters) -> None:
        self.host = host
        self.admission = admission
        self.counters = counters
        self.on_message: Callable[[str, Sender], None] | None = None  # e.g. subscription leases

    def handle_packet(self, data: bytes, sender: Sender, reply: Reply) -> None:
        counters = self.counters
        counters.packets += 1
        if not self.admission.admits(sender):
            return
        if len(data) > MAX_PACKET:
            self.error(sender, reply, "", f"packet of {len(data)} bytes is larger than {MAX_PACKET}", None)
            return
        try:
            messages = timed_messages(data)
        except PacketError as exc:
            self.error(sender, reply, "", str(exc), None)
            return
        self.admission.parsed(len(messages))
        answered: set[str] = set()
        for due, address, args in messages:
            counters.messages += 1
            if address in ANSWERED_ONCE_PER_PACKET:
                if address in answered:  # 100 syncs in one bundle get one answer, not 100
                    counters.repeats_ignored += 1
                    continue
                answered.add(address)
                if self.admission.guard.exhausted(sender[0], sender[1]):  # the reply could not go out: do not build it
                    counters.replies_held += 1
                    continue
            self.dispatch(address, args, due, sender, reply)

    def dispatch(self, address: str, args: list, due: float | None, sender: Sender, reply: Reply) -> None:
        if self.on_message is not None:
            self.on_message(address, sender)
        route = ROUTES.get(address)
        if route is None:
            try:  # a scene's controller mapping may listen on any address
                if self.host.mapped(address, args, due):
                    return
            except ValueError as exc:
                self.error(sender, reply, address, str(exc), args)
                return
            self.error(sender, reply, address, "unknown address", args)
            return
        try:
            answer = lambda late: reply([encode(a, r) for a, r in late], address)  # noqa: E731
            replies = route.handle(self.host, args, Envelope(address, due, sender, answer))  # decodes, then handles
            # Encoded here, inside the try: a reply that cannot be encoded is answered as an error.
            packets = [encode(reply_address, reply_args) for reply_address, reply_args in replies or ()]
        except ValueError as exc:
            self.error(sender, reply, address, str(exc), args)
            return
        except Exception:  # a bug in a handler must not stop the server or the music
            log.exception("OSC handler for %s failed", address)
            self.error(sender, reply, address, "internal error (logged)", args)
            return
        if packets:
            reply(packets, address)

    def error(self, sender: Sender, reply: Reply, address: str, reason: str, args: list | None) -> None:
        """Answer and log one bad input (`address` "" for the packet or stream as a whole), within
        the client's error rate."""
        self.counters.errors += 1
        if not self.admission.may_report(sender[0]):
            return
        shown = "" if args is None else " " + repr(args)[:120]
        log.warning("OSC from %s:%d: %s%s: %s", sender[0], sender[1], address or "(packet)", shown, reason)
        reply([encode(*Error(address, reason).message())], Error.address)
