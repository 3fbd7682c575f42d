"""Optional mDNS advertisement: tablets and patches find mrtd as an `_osc._udp` service.

Needs the `zeroconf` extra (`pip install mrtd[zeroconf]`); without it the
daemon says so once and runs on. The service is announced on the OSC bind
address (all interfaces when bound to 0.0.0.0), with the OSC root in its
TXT record so a client knows where to send.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

log = logging.getLogger(__name__)

SERVICE_TYPE = "_osc._udp.local."


class Advertisement:
    def __init__(self, zeroconf: Any, info: Any) -> None:
        self._zeroconf, self.info = zeroconf, info

    def close(self) -> None:
        try:
            self._zeroconf.unregister_service(self.info)
        finally:
            self._zeroconf.close()


def advertise(port: int, bind: str = "127.0.0.1", name: str | None = None) -> Advertisement | None:
    try:
        from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, Zeroconf
    except ImportError:
        log.warning("mDNS discovery off: install the zeroconf extra (pip install 'mrtd[zeroconf]')")
        return None
    host = socket.gethostname().split(".")[0]
    name = name or f"mrtd on {host}"
    all_interfaces = bind in ("0.0.0.0", "")
    address = socket.gethostbyname(host) if all_interfaces else bind
    info = ServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        addresses=[socket.inet_aton(address)],
        port=port,
        properties={"root": "/mrt", "tcp": "1"},
        server=f"{host}.local.",
    )
    try:
        zeroconf = Zeroconf(interfaces=InterfaceChoice.All if all_interfaces else [bind], ip_version=IPVersion.V4Only)
        zeroconf.register_service(info)
    except OSError as exc:
        log.warning("mDNS discovery off: %s", exc)
        return None
    log.info("mDNS: advertising %r as %s on %s:%d", name, SERVICE_TYPE, address, port)
    return Advertisement(zeroconf, info)
