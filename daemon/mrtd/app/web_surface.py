"""What the web page may ask of the daemon: the OSC surface, plus the page's own views.

Everything here reads published, immutable things (the snapshot, status,
the scene's validated model) or values single Python reads return whole; it
never writes the control state except through the OSC table's commands.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from mrtd.core.engine_choice import model_line
from mrtd.app.surface import Services, Surface
from mrtd.app.web_token import kept_token, token_path
from mrtd.vocabulary.params import PARAMS
from mrtd.frame import FRAMES_PER_SECOND

if TYPE_CHECKING:
    from mrtd.inputs.web.config import WebConfig
    from mrtd.inputs.web.server import WebServer

log = logging.getLogger("mrtd")

FRAME_BUDGET_MS = 1000.0 / FRAMES_PER_SECOND


class LevelMeter:
    """A generator tap: the last frame's peak, per channel (two floats, no allocation kept)."""

    def __init__(self) -> None:
        self.peak = (0.0, 0.0)

    def tap(self, frame: np.ndarray) -> None:
        self.peak = (float(np.abs(frame[:, 0]).max()), float(np.abs(frame[:, -1]).max()))


WARNING_KEYS = ("realtime_warning", "engine_note", "behind", "style_warning", "engine_error")


MIN_RENDER_S = 0.1  # /metrics renders at most 10 times a second; scrapes closer together get the same bytes


class WebSurface(Surface):
    def __init__(self, services: Services, meter: LevelMeter, frames_made: Callable[[], bool],
                 audio_health: Callable[[], str] = lambda: "") -> None:
        """`frames_made`: whether the generator runs (a cue's fade is drawn only then);
        `audio_health`: why the audio does not flow, "" while it does (the daemon's judge)."""
        super().__init__(services)
        self._meter = meter
        self._frames_made = frames_made
        self.health = audio_health
        self.pages = lambda: 0  # open web pages; the server sets it once it serves
        self.clock: Callable[[], float] = time.monotonic  # what the metrics cache counts time by (tests set their own)
        self._metrics: tuple[Any, Callable[[Any], bytes]] | None = None  # registry and render, once asked
        self._rendered: tuple[float, bytes] | None = None
        self.metrics_type = "text/plain"
        try:
            from mrtd.app import metrics
        except ImportError:
            log.warning("metrics off: prometheus-client is not installed (pip install prometheus-client)")
            return
        collector = metrics.StatusCollector(services.status, audio_health, self._clients)
        self._metrics = (metrics.registry(collector), metrics.render)
        self.metrics_type = metrics.CONTENT_TYPE

    def metrics(self) -> bytes | None:
        """The Prometheus text for /metrics (None without prometheus-client). Bounded: however
        often it is asked, it renders at most once per MIN_RENDER_S (web loop only: no lock)."""
        if self._metrics is None:
            return None
        now = self.clock()
        if self._rendered is None or now - self._rendered[0] >= MIN_RENDER_S:
            own, render = self._metrics
            self._rendered = (now, render(own))
        return self._rendered[1]

    def _clients(self) -> dict[str, int]:
        return {"osc": len(self._services.pusher.subscribers()), "web": self.pages()}

    def full_state(self) -> dict[str, list[Any]]:
        return dict(self._services.snapshot())

    def page_status(self) -> dict[str, Any]:
        status = self._services.status()
        # Everything the daemon warns of: a model too slow (and what auto did instead), lateness
        # while playing, prompts that cannot steer mrt2 (MusicCoCa missing), an engine fault.
        warnings = [str(status[key]) for key in WARNING_KEYS if status.get(key)]
        return {
            "engine": status["engine"],
            "embedder": str(status.get("embedder") or "builtin"),
            # Where the model came from and what it can do here ("random weights · offline only").
            "model_source": str(status.get("model_source") or ""),
            "model_verdict": str(status.get("model_verdict") or ""),
            "model": model_line(status),
            "step_ms": round(status["step_ms"], 2),
            "step_p99_ms": round(status["step_p99_ms"], 2),
            "budget_ms": FRAME_BUDGET_MS,
            # The pacing: the margin now (wider after trouble, and why) and the control latency it gives.
            "margin_ms": float(status.get("margin_ms") or 0.0),
            "control_latency_ms": float(status.get("control_latency_ms") or 0.0),
            "margin_widened": str(status.get("margin_widened") or ""),
            "underruns": status["underruns"],
            "frames": status["frames"],
            "peak": [round(p, 4) for p in self._meter.peak],
            "warnings": warnings,
            "recording": status["recording"],  # the take's path while one is written
            "record_dir": status["record_dir"],  # where takes go (the page names a finished one)
            "record_error": str(status.get("record_error") or ""),  # why the last take ended by itself
            "fade": self._fade_progress(),
            # Opening hours and a stop (/mrt/stop): whether the engine rests in silence, and the
            # sentence the header shows ("closed until 10:00"; "" when the scene has no hours).
            "resting": bool(status.get("resting", False)),
            "hours": str(status.get("hours") or ""),
            # A state folder: the page offers the state banks (save, load, factory) only then.
            "state_banks": bool(status.get("state_banks", False)),
            # Listening (--listen): what is heard, for the page's read-out beside its three switches.
            "listen": {"level_db": status["listen_level_db"], "chord": status["listen_chord"], "bpm": status["listen_bpm"]}
            if "listen" in status else None,
        }

    def _fade_progress(self) -> dict[str, Any] | None:
        """The current cue's fade: how far along (0-1), from the frame it fired and its length."""
        shown = self._services.scenes.shown()
        if shown is None or shown.fired is None or not self._frames_made():
            return None
        fired_frame, label, seconds = shown.fired
        if seconds <= 0:
            return {"cue": label, "progress": 1.0, "seconds": 0.0}
        progress = (self._services.controls.frame - fired_frame) / (seconds * FRAMES_PER_SECOND)
        return {"cue": label, "progress": round(min(1.0, max(0.0, progress)), 3), "seconds": seconds}

    def page_scene(self) -> dict[str, Any]:
        """The scene's shape for drawing: prompt positions, cues, axes, the reduced layout, limits."""
        params = {name: {"low": p.low, "high": p.high, "default": p.default} for name, p in PARAMS.items()}
        shown = self._services.scenes.shown()
        if shown is None:
            return {"name": "", "positions": {}, "surface_power": 2.0, "cues": [], "axes": [], "layout": None, "params": params}
        scene = shown.scene
        limits = scene.limits
        if limits is not None:
            for name, (low, high) in limits.params.items():
                params[name] = params[name] | {"low": max(low, params[name]["low"]), "high": min(high, params[name]["high"])}
            params["volume"] = params["volume"] | {"high": min(limits.volume_max, params["volume"]["high"])}
        web = getattr(scene, "web", None)
        return {
            "name": shown.name,
            "positions": {n: list(p.position) for n, p in scene.prompts.items() if p.position is not None},
            "surface_power": scene.surface_power,  # the page finds where a mix lies on the surface with it
            "cues": list(shown.cues),
            "axes": list(scene.axes),
            "layout": web.model_dump() if web is not None else None,
            "params": params,
        }


def start_web(services: Services, config: "WebConfig", osc_allow: list[str],
              taps: list[Callable[[np.ndarray], None]], frames_made: Callable[[], bool],
              state_dir: str | None = None, audio_health: Callable[[], str] = lambda: "") -> "WebServer | None":
    """Serve the page if aiohttp is installed; otherwise say so in one line and go on without it.

    `osc_allow`: the OSC allow-list, which the page falls back on without its own; `taps`: the
    generator's frame taps, where the level meter joins once the page serves; `frames_made`: as
    for `WebSurface`; `state_dir`: where the token is kept across restarts (None: fresh each start);
    `audio_health`: why the audio does not flow, for /health and /metrics.
    Only these, never the daemon: the page reaches what any input reaches."""
    try:
        from mrtd.inputs.web.server import WebServer
    except ImportError:
        log.warning("web surface off: aiohttp is not installed (a dependency of mrtd: pip install aiohttp)")
        return None
    kept = not config.loopback and config.token is None and state_dir is not None
    if kept:
        assert state_dir is not None
        config = replace(config, token=kept_token(state_dir))
    meter = LevelMeter()
    surface = WebSurface(services, meter, frames_made, audio_health)
    server = WebServer(surface, config, osc_allow)  # a bad allow-list stops the start, as OSC's does
    try:
        server.start()
    except OSError as exc:  # e.g. the port is taken: the music matters more than the page
        log.error("web surface off: %s", exc)
        return None
    taps.append(meter.tap)
    surface.pages = lambda: len(server.pages)
    host, warning = url_host(config.bind, server.networks, machine_addresses())
    if warning:
        log.warning("web: %s", warning)
    url = server.url(host)
    log.info("web: %s", url)
    if server.token:
        log.info("web: open that URL on the tablet (the token in it is the passphrase; %s)",
                 f"kept in {token_path(state_dir)} across restarts; `mrtd web-token --rotate` makes a new one"
                 if kept and state_dir is not None else "set in the config" if config.token and not kept
                 else "it changes at every start: give mrtd a state_dir to keep it")
        code = scan_code(url) if sys.stderr.isatty() else None
        if code is not None:  # a person at a terminal: a code the tablet's camera can scan
            sys.stderr.write(code)
            sys.stderr.flush()
    return server


def scan_code(url: str) -> str | None:
    """`url` as a QR code in text (half-block characters, light on a dark terminal), or None
    without the `qrcode` package (a dependency of mrtd)."""
    try:
        import qrcode
    except ImportError:
        return None
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    code.add_data(url)
    code.make(fit=True)
    text = io.StringIO()
    code.print_ascii(out=text, invert=True)
    return text.getvalue()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def url_host(bind: str, networks: Sequence[Network], addresses: Sequence[str]) -> tuple[str | None, str]:
    """The host for the printed URL and a warning ("" if none).

    A loopback bind: the bind address (None: the server's own). A specific address: that address.
    Any address (0.0.0.0, ::): this machine's address (from `addresses`) that the allow-list
    `networks` admits, IPv4 first, since a tablet on that network is one the page lets in. When
    none is admitted the URL cannot work from any tablet the allow-list admits, which the
    warning says, naming both."""
    def admitted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(ip in network for network in networks)

    try:
        bound = ipaddress.ip_address(bind)
    except ValueError:
        return None, ""  # a name (localhost): the server's own
    if bound.is_loopback:
        return None, ""
    allow = ",".join(map(str, networks))
    if not bound.is_unspecified:
        return bind, "" if admitted(bound) else (
            f"this machine's address {bind}, which the page is bound to, is not in the allow-list {allow}: "
            "check that the tablet's network is in it")
    ips = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or (bound.version == 4 and ip.version == 6):
            continue  # a link-local IPv6 address needs a zone in a URL, which tablets do not take
        ips.append(ip)
    ips.sort(key=lambda ip: ip.version)  # stable: IPv4 first, then in the order the kernel lists them
    for ip in ips:
        if admitted(ip):
            return str(ip), ""
    mine = ", ".join(map(str, ips)) or "none found"
    return (str(ips[0]) if ips else None), (
        f"no address of this machine ({mine}) is in the allow-list {allow}, so the URL below cannot work "
        "from a tablet: put this machine's network in web.allow (or --osc-allow)")


SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def machine_addresses() -> list[str]:
    """This machine's interface addresses, read from the kernel: no packet, no DNS lookup.

    Linux: each interface's IPv4 address (ioctl SIOCGIFADDR; an interface's secondary
    addresses are not listed) and /proc/net/if_inet6. Elsewhere: psutil when it is installed,
    else none (the URL then names the bind address and the warning says it found none)."""
    import socket

    addresses: list[str] = []
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # never sends: the ioctl reads the kernel
            for _index, name in socket.if_nameindex():
                try:
                    reply = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                except OSError:  # no IPv4 address on it (or not up)
                    continue
                addresses.append(socket.inet_ntoa(reply[20:24]))
    except (ImportError, OSError, AttributeError):
        addresses = []
    try:
        with open("/proc/net/if_inet6", "rb") as file:
            for line in file.read(1 << 16).decode("ascii", "replace").splitlines():
                digits = line.split()[0] if line.split() else ""
                if len(digits) == 32:
                    addresses.append(str(ipaddress.IPv6Address(bytes.fromhex(digits))))
    except (OSError, ValueError):
        pass
    if not addresses:
        try:
            import psutil
        except ImportError:
            return []
        addresses = [a.address for nics in psutil.net_if_addrs().values() for a in nics
                     if a.family in (socket.AF_INET, socket.AF_INET6)]
    return addresses
