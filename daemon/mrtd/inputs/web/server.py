"""The web surface's server: the page and its assets over HTTP, commands and pushes over a WebSocket.

aiohttp runs on its own thread and event loop, so nothing here ever runs on
the generation thread. The generator hands each frame's changed state to
`publish` (a thread-safe call that only schedules work on this loop); each
page has one pending dict of address -> args that later frames overwrite, so
a slow page gets the newest state, never a growing queue.

Safety (what a browser elsewhere on the network, or another site open in the
same browser, could do):
- off loopback, clients must come from the allow-list and present the token
  printed at start (in the URL the operator opens);
- a WebSocket upgrade whose Origin is not this server's page is refused, and
  so is a Host header that is not ours on loopback (DNS rebinding);
- messages are size-capped, rate-limited per connection (a token bucket, the
  excess answered with an error), and connections are capped in number.

And what anyone who can reach the port could do without a token (slowloris: connections that
never finish their headers): every connection is counted by `ConnectionGate`, overall and per
client address, and one past a cap is closed as soon as it is accepted, so the web surface never
holds more than a quarter of the process's file descriptors (the recordings, the journal, the
audio device need the rest); a connection with no request under way is closed after
`idle_timeout_s` (aiohttp's keep-alive timer, which also runs from the accept until the first
request's headers are complete, so dripping a header byte at a time does not extend it); a page
that stops answering the WebSocket's pings is closed, freeing its place among `max_connections`.
We do not evict a live page for a newcomer: that would let anyone kick the performer's tablet off.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import resource
import threading
import time
from importlib import resources
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from mrtd.inputs.bucket import TokenBucket
from mrtd.inputs.osc.table import ROOT, Host
from mrtd.inputs.refusals import RefusalLog
from mrtd.inputs.web import protocol
from mrtd.inputs.web.config import WebConfig, new_token
from mrtd.lifecycle import Worker
from mrtd.vocabulary.replies import Error, PageScene, PageStatus

log = logging.getLogger(__name__)

STATUS_PERIOD_S = 0.2  # status (meter, step time, cue fade) goes to pages 5 times a second
NOT_ALLOWED = "client not in the allow-list"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}


class WebHost(Host, Protocol):
    """The OSC table's host, plus what only a page shows."""

    def full_state(self) -> dict[str, list[Any]]: ...
    def page_status(self) -> dict[str, Any]: ...
    def page_scene(self) -> dict[str, Any]: ...
    def health(self) -> str: ...
    def metrics(self) -> bytes | None: ...
    @property
    def metrics_type(self) -> str: ...


def open_file_limit() -> int:
    """The process's soft limit on open files (RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class ConnectionGate:
    """Open web connections, counted overall and per client address; `admit` says whether one more may stay."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total, self.per_address = total, per_address
        self.by_address: dict[str, int] = {}
        self.open = 0
        self.accepted = 0  # connections seen, admitted or not
        self.refused = 0
        self._admitted: dict[object, str] = {}

    def admit(self, connection: object, address: str) -> str | None:
        """None when `connection` is counted in; else why not (it must be closed)."""
        self.accepted += 1
        if self.open >= self.total:
            self.refused += 1
            return f"too many web connections (at most {self.total})"
        if self.by_address.get(address, 0) >= self.per_address:
            self.refused += 1
            return f"too many web connections from one address (at most {self.per_address})"
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        self._admitted[connection] = address
        return None

    def release(self, connection: object) -> None:
        address = self._admitted.pop(connection, None)
        if address is None:
            return
        self.open -= 1
        left = self.by_address[address] - 1
        if left:
            self.by_address[address] = left
        else:
            del self.by_address[address]


class _Page:
    """One connected page: its socket and the state not yet sent to it."""

    def __init__(self, ws: web.WebSocketResponse, peer: tuple[str, int], config: WebConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ws, self.peer, self.clock = ws, peer, clock
        self.pending: dict[str, list[Any]] = {}
        self.wake = asyncio.Event()
        self.bucket = TokenBucket(config.messages_per_second, config.burst, clock())
        self.errors = TokenBucket(20.0, 20, clock())  # error replies, so a flood cannot flood back
        self.refused = 0


class WebServer:
    def __init__(self, host: WebHost, config: WebConfig | None = None, osc_allow: list[str] | None = None) -> None:
        self.host = host
        self.config = config or WebConfig()
        allow = self.config.allow or list(osc_allow or [])
        self._networks = [ipaddress.ip_network(n, strict=False) for n in allow]
        if not self.config.loopback and not self._networks:
            raise ValueError(f"binding the web surface to {self.config.bind} needs an allow-list of client networks "
                             "(web: {allow: [...]} or the OSC allow-list, e.g. --osc-allow 192.168.1.0/24)")
        # The config's token (the daemon puts the one kept in its state folder there); else a fresh one.
        self.token = None if self.config.loopback else (self.config.token or new_token())
        self.refusals = RefusalLog("web", log)  # who was refused and why, at most a line per address a minute
        self.pages: set[_Page] = set()
        # At most a quarter of the open-file limit: the rest stays for recordings, the journal, the device.
        self.gate = ConnectionGate(min(self.config.max_open, max(8, open_file_limit() // 4)),
                                   min(self.config.max_open_per_address, self.config.max_open))
        self.refused_origins = 0
        self.rate_limited = 0
        self.clock: Callable[[], float] = time.monotonic  # what a page's rate limits count time by (tests set their own)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._server = Worker("mrtd-web", self._run, wake=self._end_loop)
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle (daemon thread) ---------------------------------------------
    def start(self) -> None:
        self._server.start()
        self._ready.wait(10.0)
        if self._start_error is not None:
            raise OSError(f"web surface on {self.config.bind}:{self.config.port}: {self._start_error}")

    def url(self, host: str | None = None) -> str:
        where = host or self.config.bind
        if ":" in where:
            where = f"[{where}]"
        return f"http://{where}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def stop(self) -> None:
        """Close the pages and the listening socket (the web loop does), and end its thread."""
        self._server.stop()
        self.refusals.flush(final=True)

    def _end_loop(self) -> None:
        loop = self._loop
        if loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (it failed to start)
                loop.call_soon_threadsafe(self._stopping.set)

    # -- generation thread ---------------------------------------------------------
    def publish(self, messages: dict[str, list[Any]]) -> None:
        """A frame's changed state; never blocks (the merge happens on the web loop)."""
        loop = self._loop
        if messages and self.pages and loop is not None:
            loop.call_soon_threadsafe(self._merge, messages)

    # -- the web loop ----------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._start_error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=protocol.MAX_MESSAGE)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        # keepalive_timeout is aiohttp's only timer on a connection with no request under way: it runs
        # from the accept (so it is the header timeout too) and after each response (idle keep-alive).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=self.config.idle_timeout_s, shutdown_timeout=2.0)
        await self._runner.setup()
        self._gate_connections(self._runner.server)
        site = web.TCPSite(self._runner, self.config.bind, self.config.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        status = asyncio.ensure_future(self._status_loop())
        await self._stopping.wait()
        status.cancel()
        for page in list(self.pages):
            await page.ws.close(code=1001, message=b"mrtd stopping")
        await self._runner.cleanup()

    def _gate_connections(self, server: web.Server | None) -> None:
        """Count every connection through the gate. aiohttp (3.x) has no connection cap of its own;
        its `Server.connection_made`/`connection_lost` are the hooks every connection's handler
        calls on its manager, so wrapping them on this one server sees each accept and each close.
        One past a cap is closed at once: its descriptor is freed before it can hold anything."""
        assert server is not None
        made, lost, gate = server.connection_made, server.connection_lost, self.gate

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            made(handler, transport)
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else "unknown address"
            why = gate.admit(handler, address)
            if why is not None:
                self.refusals.refused(address, why)
                # Next turn of the loop, after the handler's own start: closing inside its
                # connection_made would run connection_lost (which unsets its manager) first.
                asyncio.get_running_loop().call_soon(handler.force_close)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            gate.release(handler)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _merge(self, messages: dict[str, list[Any]]) -> None:
        for page in self.pages:
            page.pending.update(messages)
            page.wake.set()

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_PERIOD_S)
            self.refusals.flush()  # the "N more refused" line, when one is due
            if not self.pages:
                continue
            try:
                status = self.host.page_status()
            except Exception:  # a status read must never end the loop
                log.exception("web status")
                continue
            self._merge(dict([PageStatus(json.dumps(status)).message()]))

    # -- checks ----------------------------------------------------------------------
    def _refusal(self, request: web.Request, needs_token: bool = True) -> str | None:
        """Why this request may not have the page or the socket, or None. `needs_token=False`:
        /health and /metrics, which change nothing and show only health figures, so the allow-list
        (and on loopback the Host check) guards them but not the token: health checkers and most
        Prometheus setups cannot send one, and a token in a scrape config would be one more secret
        to keep in step with the tablet's."""
        peer = request.remote or ""
        if self._networks:
            try:
                ip = ipaddress.ip_address(peer)
            except ValueError:
                return "unknown client address"
            if not ip.is_loopback and not any(ip in n for n in self._networks):
                return NOT_ALLOWED
        if self.token is not None:
            given = request.query.get("token", "")
            if needs_token and not hmac.compare_digest(given.encode(), self.token.encode()):
                return "wrong or missing token (open the URL mrtd printed at start)"
        elif not _is_local_host(request.host):
            return f"Host {request.host[:60]!r} is not this machine"  # DNS rebinding onto loopback
        return None

    # -- handlers ----------------------------------------------------------------------
    @property
    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The client networks admitted off loopback (empty: any, on a loopback bind)."""
        return list(self._networks)

    def _refused(self, request: web.Request, why: str) -> web.Response:
        """403, and a line in the log (rate-limited) that names the allow-list too: the client is not told it."""
        shown = f"{why} {','.join(map(str, self._networks))}" if why == NOT_ALLOWED else why
        self.refusals.refused(request.remote or "unknown address", shown)
        return web.Response(status=403, text=f"mrtd: {why}\n")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        why = self._refusal(request)
        if why:
            return self._refused(request, why)
        return web.Response(body=_asset_bytes("index.html"), content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                     "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'"})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        """200 while the audio flows, else 503; the body says why in one line (for a health check)."""
        why = self._refusal(request, needs_token=False)
        if why:
            return web.Response(status=403, text=f"mrtd: {why}\n")
        why = self.host.health()
        return web.Response(status=503 if why else 200, text=f"mrtd: {why or 'playing'}\n",
                            headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        """Prometheus' text format (the host renders it, at most 10 times a second)."""
        why = self._refusal(request, needs_token=False)
        if why:
            return web.Response(status=403, text=f"mrtd: {why}\n")
        body = self.host.metrics()
        if body is None:
            return web.Response(status=501, text="mrtd: /metrics needs prometheus-client (pip install prometheus-client)\n")
        return web.Response(body=body, headers={"Content-Type": self.host.metrics_type, "Cache-Control": "no-store"})

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.Response(body=_asset_bytes(name), content_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        why = self._refusal(request)
        origin = request.headers.get("Origin")
        if why is None and origin is not None and not _same_origin(origin, request.host):
            self.refused_origins += 1
            why = f"origin {origin[:80]!r} may not drive this daemon"
        if why is None and len(self.pages) >= self.config.max_connections:
            why = f"too many pages connected (at most {self.config.max_connections})"
        if why:
            return self._refused(request, why)
        ws = web.WebSocketResponse(max_msg_size=protocol.MAX_MESSAGE * 4, heartbeat=self.config.page_heartbeat_s)
        await ws.prepare(request)
        peer = (request.remote or "?", 0)
        page = _Page(ws, peer, self.config, self.clock)
        page.pending.update(self.host.full_state())
        page.pending.update([PageScene(json.dumps(self.host.page_scene())).message()])
        page.wake.set()
        self.pages.add(page)
        writer = asyncio.ensure_future(self._writer(page))
        log.info("web: page connected from %s (%d open)", peer[0], len(self.pages))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        await self._answer(page, [protocol.error("", "send JSON text, not binary")])
                    continue
                if not page.bucket.take(page.clock()):
                    self.rate_limited += 1
                    page.refused += 1
                    await self._answer(page, [protocol.error("", "too many messages: slow down")])
                    continue
                replies = protocol.dispatch(self.host, message.data, peer, f"page {id(page):x}")
                await self._answer(page, replies)
        finally:
            self.pages.discard(page)
            writer.cancel()
            log.info("web: page from %s left (%d open)", peer[0], len(self.pages))
        return ws

    async def _answer(self, page: _Page, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            if reply["address"] == Error.address and not page.errors.take(page.clock()):
                continue  # errors rate-limited per page
            if not page.ws.closed:
                await page.ws.send_str(json.dumps({"reply": reply}))

    async def _writer(self, page: _Page) -> None:
        """Send the page everything pending, at most once per wake (so once per frame, or fewer)."""
        scene_shown = None
        while not page.ws.closed:
            await page.wake.wait()
            page.wake.clear()
            state, page.pending = page.pending, {}
            if f"{ROOT}/scene" in state and state[f"{ROOT}/scene"] != scene_shown:
                scene_shown = state[f"{ROOT}/scene"]
                state.update([PageScene(json.dumps(self.host.page_scene())).message()])
            try:
                await page.ws.send_str(json.dumps({"state": state, "t": time.time()}))
            except (ConnectionError, RuntimeError):
                return


def _asset_bytes(name: str) -> bytes:
    return resources.files("mrtd.inputs.web").joinpath("static", name).read_bytes()


def _is_local_host(host_header: str) -> bool:
    host = urlsplit(f"//{host_header}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_origin(origin: str, host_header: str) -> bool:
    """The page's own origin: http://<the Host the browser used>."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host_header.lower()
