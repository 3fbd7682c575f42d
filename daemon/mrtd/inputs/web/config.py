"""The web surface's settings (importable without aiohttp, so the config file can name them)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass
class WebConfig:
    bind: str = "127.0.0.1"
    port: int = 7401
    allow: list[str] = field(default_factory=list)  # CIDR networks; off loopback: this or OSC's allow-list
    token: str | None = None  # None: a fresh one at each start when off loopback
    max_connections: int = 16
    messages_per_second: float = 200.0  # per connection; a finger drags at 60-120 Hz
    burst: int = 400

    def __post_init__(self) -> None:
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
