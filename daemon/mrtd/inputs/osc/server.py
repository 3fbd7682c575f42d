"""The OSC server: its configuration, and the three parts it joins.

- `transport.py`: UDP and TCP sockets, framing, the receive and parse threads,
  progress timeouts, replies sent back;
- `admission.py`: who may send and how much (the allow-list, TCP connection
  quotas, the parse rate, error replies per client) and what may go back to an
  address (`ReplyGuard`: proof, `/mrt/hello`, reply budgets);
- `dispatch.py`: a packet decoded into messages with their due times, routed
  through the address table, its answers encoded; unknown addresses and bad
  input answered with one error each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from mrtd.inputs.osc.admission import MAX_TCP_CONNECTIONS, MAX_TCP_PER_ADDRESS, Admission, Network, OscCounters, ReplyGuard, Sender, allow_networks
from mrtd.inputs.osc.dispatch import Dispatcher
from mrtd.inputs.osc.table import Host
from mrtd.inputs.osc.transport import TCP_IDLE_S, TCP_MESSAGE_S, Transport


@dataclass
class OscConfig:
    bind: str = "127.0.0.1"
    port: int = 7400
    allow: list[str] = field(default_factory=list)  # CIDR networks; required off loopback
    tcp: bool = True
    # Loopback may always talk to us, whatever the allow-list says: `mrtd send` and
    # `mrtd status` speak from 127.0.0.1. False locks local tools out too.
    allow_loopback: bool = True
    # Replies to loopback are not bounded (a packet from 127/8 cannot come from another host).
    # False bounds them like any other address (the abuse benchmark measures with this).
    trust_loopback: bool = True
    # TCP: seconds to finish a message once its first byte came, seconds without a whole message
    # before a connection is closed, and connections open at once from one address.
    tcp_message_s: float = TCP_MESSAGE_S
    tcp_idle_s: float = TCP_IDLE_S
    tcp_per_address: int = MAX_TCP_PER_ADDRESS

    def __post_init__(self) -> None:
        self.networks()  # refuse a bad configuration where it is written, not when it is used
        if not 0 <= self.port <= 65535:
            raise ValueError(f"OSC port must be 0-65535 (0: any free port), got {self.port}")
        if not (0 < self.tcp_message_s <= 3600 and 0 < self.tcp_idle_s <= 86400):
            raise ValueError(f"OSC tcp_message_s lies in (0, 3600] and tcp_idle_s in (0, 86400], got {self.tcp_message_s}, {self.tcp_idle_s}")
        if not 1 <= self.tcp_per_address <= MAX_TCP_CONNECTIONS:
            raise ValueError(f"OSC tcp_per_address lies in 1-{MAX_TCP_CONNECTIONS}, got {self.tcp_per_address}")

    def networks(self) -> list[Network]:
        return allow_networks(self.allow, self.bind)


class OscServer:
    def __init__(self, host: Host, config: OscConfig | None = None) -> None:
        self.host = host
        cfg = self.config = config or OscConfig()
        self.counters = OscCounters()
        self.admission = Admission(self.counters, cfg.allow, cfg.networks(), cfg.allow_loopback, cfg.trust_loopback, cfg.tcp_per_address)
        self.dispatcher = Dispatcher(host, self.admission, self.counters)
        self.transport = Transport(self.admission, self.dispatcher, self.counters, cfg.bind, cfg.port, cfg.tcp,
                                   cfg.tcp_message_s, cfg.tcp_idle_s)

    def start(self) -> None:
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()
        self.admission.refusals.flush(final=True)

    @property
    def port(self) -> int:
        return self.transport.port

    @property
    def guard(self) -> ReplyGuard:
        """What may go back to each UDP address; the pusher charges its pushes here too."""
        return self.admission.guard

    @guard.setter
    def guard(self, guard: ReplyGuard) -> None:
        self.admission.guard = guard

    @property
    def on_message(self) -> Callable[[str, Sender], None] | None:
        """Called with every message's address and sender (e.g. to renew subscription leases)."""
        return self.dispatcher.on_message

    @on_message.setter
    def on_message(self, listener: Callable[[str, Sender], None] | None) -> None:
        self.dispatcher.on_message = listener

    def status(self) -> dict[str, int]:
        """Counters a user sees in `/mrt/status`."""
        c, g = self.counters, self.guard.counters
        return {
            "osc_packets": c.packets,
            "osc_errors": c.errors,
            "osc_refused": c.refused,
            "osc_dropped": c.dropped,
            "osc_tcp_refused": c.tcp_refused,
            "osc_replies_held": c.replies_held + g.packets_held,
        }
