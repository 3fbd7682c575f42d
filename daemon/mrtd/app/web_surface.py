"""What the web page may ask of the daemon: the OSC surface, plus the page's own views.

Everything here reads published, immutable things (the snapshot, status,
the scene's validated model) or values single Python reads return whole; it
never writes the control state except through the OSC table's commands.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from mrtd.app.surface import Services, Surface
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


class WebSurface(Surface):
    def __init__(self, services: Services, meter: LevelMeter, frames_made: Callable[[], bool]) -> None:
        """`frames_made`: whether the generator runs (a cue's fade is drawn only then)."""
        super().__init__(services)
        self._meter = meter
        self._frames_made = frames_made

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
            "step_ms": round(status["step_ms"], 2),
            "step_p99_ms": round(status["step_p99_ms"], 2),
            "budget_ms": FRAME_BUDGET_MS,
            "underruns": status["underruns"],
            "frames": status["frames"],
            "peak": [round(p, 4) for p in self._meter.peak],
            "warnings": warnings,
            "recording": status["recording"],
            "fade": self._fade_progress(),
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
            return {"name": "", "positions": {}, "cues": [], "axes": [], "layout": None, "params": params}
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
            "cues": list(shown.cues),
            "axes": list(scene.axes),
            "layout": web.model_dump() if web is not None else None,
            "params": params,
        }


def start_web(services: Services, config: "WebConfig", osc_allow: list[str],
              taps: list[Callable[[np.ndarray], None]], frames_made: Callable[[], bool]) -> "WebServer | None":
    """Serve the page if aiohttp is installed; otherwise say so in one line and go on without it.

    `osc_allow`: the OSC allow-list, which the page falls back on without its own; `taps`: the
    generator's frame taps, where the level meter joins once the page serves; `frames_made`: as
    for `WebSurface`. Only these, never the daemon: the page reaches what any input reaches."""
    try:
        from mrtd.inputs.web.server import WebServer
    except ImportError:
        log.warning("web surface off: aiohttp is not installed (a dependency of mrtd: pip install aiohttp)")
        return None
    meter = LevelMeter()
    server = WebServer(WebSurface(services, meter, frames_made), config, osc_allow)  # a bad allow-list stops the start, as OSC's does
    try:
        server.start()
    except OSError as exc:  # e.g. the port is taken: the music matters more than the page
        log.error("web surface off: %s", exc)
        return None
    taps.append(meter.tap)
    url = server.url(_lan_address() if not config.loopback and config.bind in ("0.0.0.0", "::") else None)
    log.info("web: %s", url)
    if server.token:
        log.info("web: open that URL on the tablet (the token in it is the passphrase; it changes at every start)")
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


def _lan_address() -> str:
    """This machine's address on the network a tablet would use (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: connect() on UDP only picks a route
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
