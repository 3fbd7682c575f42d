"""The web page: OSC change to the page showing it, page gesture to the frame that carries it,
and the generator's underruns with four pages open and one dragging the XY point all the time.

    .venv/bin/python benchmarks/bench_web.py [--seconds 20] [--samples 60]

A real daemon (synth engine, real-time paced null output, the tablet-xy scene)
and Debian's chromium driven by Playwright, all on this machine, so the browser's
Date.now() and Python's time.time() read the same clock.
"""

from __future__ import annotations

import argparse
import os
import math
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "tests"))

from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

from conftest import running_daemon, wait_for  # noqa: E402
from mrtd.engines.synth import SynthEngine  # noqa: E402
from mrtd.inputs.web.config import WebConfig  # noqa: E402
from web_rig import PHONE, SCENES, TABLET, chromium, open_page  # noqa: E402


class StampedSynth(SynthEngine):
    """The synth, noting when each frame's conditioning was handed to it."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.stamps: list[tuple[float, float]] = []  # (time.time(), temperature)

    def _step(self, conditioning):
        self.stamps.append((time.time(), float(conditioning.temperature)))
        return super()._step(conditioning)


def osc(address: str, value: float) -> bytes:
    builder = OscMessageBuilder(address=address)
    builder.add_arg(float(value), "f")
    return builder.build().dgram


def percentiles(values_ms: list[float]) -> str:
    values = sorted(values_ms)
    p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
    return f"p50 {statistics.median(values):.1f} ms, p99 {p99:.1f} ms (n={len(values)})"


WATCH_CFG = """() => {
  window.shown = {};
  const value = document.querySelector('#params .fader[data-address="/mrt/cfg/style"] .value');
  new MutationObserver(() => requestAnimationFrame(() => { window.shown[value.textContent] = Date.now(); }))
    .observe(value, { childList: true, characterData: true, subtree: true });
}"""

STAMP_GESTURES = """() => {
  window.gestures = [];
  document.querySelector('#params .fader[data-address="/mrt/temperature"]')
    .addEventListener('pointerdown', () => window.gestures.push(Date.now()), true);
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="how long one page drags while four are open")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--lead", type=int, default=3, help="frames generated ahead (3 = the balanced preset, 6 = safe)")
    args = parser.parse_args()
    engine = StampedSynth()
    with tempfile.TemporaryDirectory() as folder, chromium() as browser:
        normal_nice = os.getpriority(os.PRIO_PROCESS, 0)
        with running_daemon(Path(folder), engine=engine, web=WebConfig(port=0), midi=False,
                            lead_frames=args.lead, scene=str(SCENES / "tablet-xy.yaml")) as (daemon, _):
            # This thread now drives the browsers (the tablets' side): back to the nice it had,
            # as a tablet's browser is not the daemon; the daemon's own threads keep theirs.
            os.setpriority(os.PRIO_PROCESS, 0, normal_nice)
            wait_for(lambda: daemon.scenes.player is not None, 10, "the scene")
            url = daemon.web.url()
            pages = [open_page(browser, url, TABLET if i % 2 == 0 else PHONE) for i in range(4)]
            watcher, gesturer = pages[1], pages[2]
            watcher.evaluate(WATCH_CFG)
            gesturer.evaluate(STAMP_GESTURES)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

            # 1. OSC change -> the page showing it
            sent: dict[str, float] = {}
            for i in range(args.samples):
                value = round(0.5 + (i % 30) * 0.1 + (0.05 if i >= 30 else 0.0), 2)
                sent[f"{value:.2f}"] = time.time()
                sock.sendto(osc("/mrt/cfg/style", value), ("127.0.0.1", daemon.osc.port))
                watcher.wait_for_function("(v) => v in window.shown", arg=f"{value:.2f}")
            shown = watcher.evaluate("window.shown")
            osc_to_page = [(shown[k] / 1000 - t) * 1000 for k, t in sent.items() if k in shown]

            # 2. page gesture -> the frame that carries it
            fader = gesturer.locator('#params .fader[data-address="/mrt/temperature"]')
            box = fader.bounding_box()
            gesture_to_frame = []
            for i in range(args.samples):
                fraction = 0.1 + 0.8 * ((i * 7) % args.samples) / args.samples
                want = round(fraction * 3.0, 3)  # temperature lies in [0, 3]
                before = len(engine.stamps)
                gesturer.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
                wait_for(lambda: any(abs(t - want) < 0.01 for _, t in engine.stamps[before:]), 5, "the frame")
                stamp = next(s for s, t in engine.stamps[before:] if abs(t - want) < 0.01)
                gesture_ms = gesturer.evaluate("window.gestures[window.gestures.length - 1]")
                gesture_to_frame.append(stamp * 1000 - gesture_ms)

            # 3a. baseline: the four pages open, nobody touching them
            before_idle = daemon.status()["underruns"]
            time.sleep(args.seconds)
            idle_underruns = daemon.status()["underruns"] - before_idle

            # 3b. four pages open, one dragging the XY point continuously
            canvas = pages[0].locator("#xy-canvas").bounding_box()
            underruns_before = daemon.status()["underruns"]
            frames_before = daemon.generator.frames
            moves = 0
            started = time.monotonic()
            pages[0].mouse.move(canvas["x"] + 10, canvas["y"] + 10)
            pages[0].mouse.down()
            while time.monotonic() - started < args.seconds:
                t = time.monotonic() - started
                x = canvas["x"] + canvas["width"] * (0.5 + 0.45 * math.cos(t * 2.1))
                y = canvas["y"] + canvas["height"] * (0.5 + 0.45 * math.sin(t * 3.3))
                pages[0].mouse.move(x, y)
                moves += 1
            pages[0].mouse.up()
            elapsed = time.monotonic() - started
            underruns = daemon.status()["underruns"] - underruns_before
            frames = daemon.generator.frames - frames_before
            web = daemon.web
            rate_limited = web.rate_limited
            for page in pages:
                page.context.close()

            # 3c. the same load without a browser's CPU: four WebSocket clients, one sending /mrt/xy at 60 Hz
            socket_moves, socket_underruns = drag_over_sockets(daemon, args.seconds)

    print(f"lead {args.lead} frames, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"OSC change -> page shows it:        {percentiles(osc_to_page)}")
    print(f"page gesture -> frame carrying it:  {percentiles(gesture_to_frame)}")
    print(f"4 pages open, idle for {args.seconds:.0f} s:      {idle_underruns} underruns")
    print(f"4 pages, 1 dragging for {elapsed:.0f} s:   {moves / elapsed:.0f} pointer moves/s, {frames} frames, "
          f"{underruns} underruns, {rate_limited} messages rate-limited")
    print(f"4 sockets, 1 sending /mrt/xy for {args.seconds:.0f} s: {socket_moves / args.seconds:.0f} msgs/s, {socket_underruns} underruns")


def drag_over_sockets(daemon, seconds: float) -> tuple[int, int]:
    import asyncio
    import json
    import math

    import aiohttp

    async def run() -> int:
        url = f"http://127.0.0.1:{daemon.web.port}/ws"
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(url) for _ in range(4)]
            readers = [asyncio.ensure_future(drain(ws)) for ws in sockets]
            sent, started = 0, time.monotonic()
            while (t := time.monotonic() - started) < seconds:
                x, y = 0.5 + 0.5 * math.cos(t * 2.1), 0.5 + 0.5 * math.sin(t * 3.3)
                await sockets[0].send_str(json.dumps({"address": "/mrt/xy", "args": [x, y]}))
                sent += 1
                await asyncio.sleep(1 / 60)
            for ws in sockets:
                await ws.close()
            for reader in readers:
                reader.cancel()
            return sent

    async def drain(ws) -> None:
        async for _ in ws:
            pass

    before = daemon.status()["underruns"]
    with __import__("concurrent.futures").futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(asyncio.run, run()).result()
    return sent, daemon.status()["underruns"] - before


if __name__ == "__main__":
    main()
