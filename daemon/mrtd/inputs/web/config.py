"""The web surface's settings (importable without aiohttp, so the config file can name them)."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field


def new_token() -> str:
    """A fresh web token: 96 random bits, URL-safe (16 characters)."""
    return secrets.token_urlsafe(12)


@dataclass
class WebConfig:
    bind: str = "127.0.0.1"  # address the page listens on; off loopback it needs an allow-list and prints a token URL
    port: int = 7401  # HTTP and WebSocket port (0: any free port)
    allow: list[str] = field(default_factory=list)  # CIDR networks; off loopback: this or OSC's allow-list
    token: str | None = None  # None: kept in state_dir across restarts (`mrtd web-token --rotate`), else fresh at each start
    max_connections: int = 16  # pages connected at once
    page_heartbeat_s: float = 20.0  # pings each page this often; one that does not answer in half of it is closed, freeing its place
    idle_timeout_s: float = 15.0  # a connection with no request under way (headers unfinished, or idle keep-alive) is closed after this
    max_open: int = 256  # HTTP and WebSocket connections at once, all clients (and never over a quarter of the open-file limit)
    max_open_per_address: int = 32  # connections at once from one client address
    messages_per_second: float = 200.0  # per connection; a finger drags at 60-120 Hz
    burst: int = 400  # messages a page may send at once before the rate applies

    def __post_init__(self) -> None:
        if not 0 < self.idle_timeout_s <= 3600 or not 0 < self.page_heartbeat_s <= 3600:
            raise ValueError("web idle_timeout_s and page_heartbeat_s must be seconds above 0 (at most 3600)")
        if not 1 <= self.max_open_per_address <= self.max_open <= 65536:
            raise ValueError(f"web connections: need 1 <= max_open_per_address <= max_open <= 65536, "
                             f"got {self.max_open_per_address} and {self.max_open}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"web port must be 0-65535 (0: any free port), got {self.port}")
        try:
            [ipaddress.ip_network(n, strict=False) for n in self.allow]
        except ValueError as exc:
            raise ValueError(f"web allow-list: {exc}") from None

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.bind).is_loopback
        except ValueError:
            return self.bind == "localhost"
