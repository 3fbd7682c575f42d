"""The web control surface, in a real browser: same vocabulary as OSC, same pushes, safe by default."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.server
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio_analysis import spectral_centroid
from conftest import control_state, running_daemon, wait_for
from mrtd.inputs.web import protocol
from mrtd.inputs.web.config import WebConfig
from osc_probe import OscProbe
from web_rig import PHONE, SCENES, TABLET, chromium, open_page, page_state

import aiohttp  # noqa: E402,F401  (the test extra: the web page needs it)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@contextlib.contextmanager
def web_daemon(tmp_path, scene: str | Path | None = None, engine=None, web: WebConfig | None = None, **config):
    """A running daemon with the web page on a free loopback port: yields (daemon, engine, probe, url).
    `scene`: an example's name, or a scene file's path."""
    path = scene if isinstance(scene, Path) else SCENES / f"{scene}.yaml"
    with running_daemon(tmp_path, engine=engine, web=web or WebConfig(port=0), midi=False,
                        scene=str(path) if scene else None, **config) as (daemon, eng):
        if scene:
            wait_for(lambda: daemon.scenes.shown() is not None, 10, "the scene")
        probe = OscProbe(daemon.osc.port)
        try:
            yield daemon, eng, probe, daemon.web.url()
        finally:
            probe.close()


def off_loop(coroutine):
    """Run an aiohttp client coroutine on its own thread (Playwright's sync API holds this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(60)


def sync_state(probe: OscProbe) -> dict:
    start = probe.transcript.mark()
    probe.send("/mrt/sync")
    probe.transcript.wait_for_first("/mrt/synced", since=start)
    return dict(probe.transcript.since(start).messages())


def weights(args: list) -> dict[str, float]:
    return {args[i]: args[i + 1] for i in range(0, len(args), 2)}


# -- the same vocabulary ----------------------------------------------------------------


def test_a_web_message_goes_through_the_osc_table_and_gets_its_errors():
    class Host:
        submitted = []

        def submit(self, command, due, answer=None, account=None):
            self.submitted.append(command)

        def mapped(self, address, args, due):
            return False

    host = Host()
    assert protocol.dispatch(host, json.dumps({"address": "/mrt/temperature", "args": [0.7]}), ("page", 0)) == []
    assert host.submitted[-1].value == pytest.approx(0.7)
    bad = protocol.dispatch(host, json.dumps({"address": "/mrt/temperature", "args": [9]}), ("page", 0))
    assert bad == [{"address": "/mrt/error", "args": ["/mrt/temperature", "temperature must lie in [0, 3], got 9"]}]
    for text, reason in [("[1]", "a JSON object"), ('{"address": "/mrt/topk", "args": [[1]]}', "nothing nested"),
                         ('{"address": "/mrt/topk", "args": [NaN]}', "not JSON"), ("x" * 20000, "longer than"),
                         ('{"address": "/mrt/nope"}', "unknown address")]:
        (reply,) = protocol.dispatch(host, text, ("page", 0))
        assert reply["address"] == "/mrt/error" and reason in reply["args"][1], (text[:40], reply)
    assert len(host.submitted) == 1, "bad messages change nothing"


# -- in the browser ------------------------------------------------------------------------


def test_dragging_the_xy_point_moves_sync_weights_and_the_spectrum(tmp_path, browser):
    from mrtd.engines.synth import SynthEngine

    scene = tmp_path / "scenes" / "pad.yaml"
    scene.parent.mkdir(parents=True)
    scene.write_text("name: pad\nprompts:\n  drone: {text: dark ambient drone, position: [0, 0], weight: 1}\n"
                     "  techno: {text: bright fast techno, position: [1, 1]}\n")
    frames: list[np.ndarray] = []
    with running_daemon(tmp_path, engine=SynthEngine(seed=0), web=WebConfig(port=0), midi=False, scene=str(scene)) as (daemon, _):
        wait_for(lambda: daemon.scenes.shown() is not None, 10, "the scene")
        daemon.generator.taps.append(lambda frame: frames.append(frame.copy()))
        probe = OscProbe(daemon.osc.port)
        page = open_page(browser, daemon.web.url())
        box = page.locator("#xy-canvas").bounding_box()

        def drag_to(fx: float, fy: float) -> None:  # fractions of the canvas, y down
            page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
            page.mouse.down()
            for step in range(1, 11):
                t = step / 10
                page.mouse.move(box["x"] + box["width"] * (0.5 + (fx - 0.5) * t), box["y"] + box["height"] * (0.5 + (fy - 0.5) * t))
            page.mouse.up()

        drag_to(0.02, 0.98)  # bottom left: the drone's corner
        wait_for(lambda: weights(sync_state(probe)["/mrt/mix"]).get("drone", 0) > 0.95, 5, "the drone to own the mix")
        start = len(frames)
        wait_for(lambda: len(frames) > start + 100, 20, "4 s of the drone")
        dark = np.concatenate(frames[start + 25:start + 100])
        drag_to(0.98, 0.02)  # top right: techno
        # The page sends the point once per animation frame: techno owns the mix a step or two
        # before the drag's last point arrives, so wait for that point, not for the mix alone.
        wait_for(lambda: min(sync_state(probe)["/mrt/xy"][:2]) > 0.9, 5, "the drag's last point (top right)")
        assert weights(sync_state(probe)["/mrt/mix"]).get("techno", 0) > 0.95, "techno owns the mix"
        start = len(frames)
        wait_for(lambda: len(frames) > start + 100, 20, "4 s of techno")
        bright = np.concatenate(frames[start + 25:start + 100])
        assert spectral_centroid(bright) > 1.5 * spectral_centroid(dark), (spectral_centroid(dark), spectral_centroid(bright))
        page.wait_for_function("document.getElementById('xy-read').textContent.startsWith('x 0.9') || document.getElementById('xy-read').textContent.startsWith('x 1.0')")
        probe.close()


def test_go_changes_the_cue_in_the_page_and_in_osc_status(tmp_path, browser):
    with web_daemon(tmp_path, "gallery-day-night") as (daemon, _, probe, url):
        page = open_page(browser, url)
        cues = page.evaluate("window.mrtd.scene.cues")
        assert len(cues) >= 2
        before = page_state(page, "/mrt/cue")[0]
        page.click("#go")
        wait_for(lambda: daemon.control.cue not in (None, before), 5, "GO to fire the standby cue")
        fired = daemon.control.cue
        page.wait_for_function("(c) => document.querySelector('#cues li.current')?.textContent === c", arg=fired)
        status = probe.request("/mrt/status", "/mrt/status")
        assert status[status.index("cue") + 1] == fired


def test_a_second_page_sees_the_first_pages_changes_and_osc_moves_the_faders(tmp_path, browser):
    with web_daemon(tmp_path, "tablet-xy") as (daemon, engine, probe, url):
        first, second = open_page(browser, url), open_page(browser, url, PHONE)
        fader = first.locator('#params .fader[data-address="/mrt/temperature"]')
        box = fader.bounding_box()
        first.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)  # 0.75 of 0..3
        wait_for(lambda: engine.seen and abs(engine.seen[-1].temperature - 0.75) < 0.05, 5, "the engine to get the gesture")
        second.wait_for_function("Math.abs(window.mrtd.state['/mrt/temperature'][0] - 0.75) < 0.05")
        shown = second.locator('#params .fader[data-address="/mrt/temperature"] .value').text_content()
        assert abs(float(shown) - 0.75) < 0.05
        probe.send("/mrt/cfg/style", 3.5)
        for page in (first, second):
            page.wait_for_function("document.querySelector('#params .fader[data-address=\"/mrt/cfg/style\"] .value').textContent === '3.50'")
            width = page.evaluate("document.querySelector('#params .fader[data-address=\"/mrt/cfg/style\"] .fill').style.width")
            assert width == f"{100 * (3.5 + 1) / 8:g}%", width  # cfg lies in [-1, 7]


def test_a_bad_message_from_the_page_shows_an_error_and_changes_nothing(tmp_path, browser):
    with web_daemon(tmp_path) as (daemon, engine, probe, url):
        page = open_page(browser, url)
        before = control_state(daemon)
        page.evaluate("window.mrtd.send('/mrt/topk', 5000)")
        page.wait_for_selector("#errors div")
        assert "top_k must lie in [1, 1024], got 5000" in page.text_content("#errors")
        page.evaluate("window.mrtd.send('/mrt/prompt', 'x', '')")
        page.wait_for_function("document.querySelectorAll('#errors div').length >= 2")
        assert control_state(daemon) == before
        assert all(c.top_k != 5000 for c in engine.seen)


def test_a_page_from_another_origin_cannot_open_the_socket(tmp_path, browser):
    with web_daemon(tmp_path) as (daemon, engine, probe, url):
        script = ("<script>window.result='pending';const ws=new WebSocket('ws://127.0.0.1:%d/ws');"
                  "ws.onopen=()=>{ws.send(JSON.stringify({address:'/mrt/volume',args:[-40]}));window.result='open'};"
                  "ws.onerror=()=>window.result='refused';</script>" % daemon.web.port).encode()

        class Elsewhere(http.server.BaseHTTPRequestHandler):  # another site: another origin on this machine
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(script)

            def log_message(self, *args):
                pass

        other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
        threading.Thread(target=other.serve_forever, daemon=True).start()
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{other.server_address[1]}/")
        page.wait_for_function("window.result !== 'pending'")
        assert page.evaluate("window.result") == "refused"
        assert daemon.web.refused_origins == 1
        assert daemon.control.values["volume"] == 0.0
        context.close()
        other.shutdown()

        async def rebinding() -> int:  # DNS rebinding: a foreign name that resolves here
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{daemon.web.port}/", headers={"Host": "evil.example:80"}) as r:
                    return r.status

        assert off_loop(rebinding()) == 403


def test_off_loopback_the_page_needs_the_allow_list_and_the_token(tmp_path):
    with pytest.raises(ValueError, match="allow-list"):
        with web_daemon(tmp_path, web=WebConfig(bind="0.0.0.0", port=0)):
            pass
    with web_daemon(tmp_path, web=WebConfig(bind="0.0.0.0", port=0, allow=["127.0.0.0/8"])) as (daemon, _, _probe, url):
        token = daemon.web.token
        assert token and f"?token={token}" in url

        async def get(path: str) -> int:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{daemon.web.port}{path}") as r:
                    return r.status

        assert off_loop(get("/")) == 403
        assert off_loop(get("/?token=wrong")) == 403
        assert off_loop(get(f"/?token={token}")) == 200
        assert off_loop(get("/ws")) == 403


def test_a_flood_from_one_page_is_bounded_and_the_music_goes_on(tmp_path):
    with web_daemon(tmp_path, web=WebConfig(port=0, messages_per_second=100, burst=50)) as (daemon, engine, probe, url):
        now = [0.0]
        daemon.web.clock = lambda: now[0]  # the page's rate limits count this time: frozen until moved

        async def flood() -> list[dict]:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"http://127.0.0.1:{daemon.web.port}/ws") as ws:
                    for i in range(2000):
                        await ws.send_str(json.dumps({"address": "/mrt/temperature", "args": [1.0 + (i % 10) / 100]}))
                    await ws.send_str("x" * (protocol.MAX_MESSAGE + 1))
                    deadline = time.monotonic() + 10
                    while daemon.web.rate_limited < 2001 - 50:  # the server has taken every one of them
                        assert time.monotonic() < deadline, f"only {daemon.web.rate_limited} refused: time leaked into the limit"
                        await asyncio.sleep(0.01)
                    now[0] += 0.1  # at 100/s: room for ten more
                    await ws.send_str(json.dumps({"address": "/mrt/ping", "args": ["end"]}))
                    replies = []
                    while True:  # until the pong that follows everything (if rate limiting let it through)
                        message = await ws.receive(timeout=10.0)
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        replies.append(json.loads(message.data))
                        if replies[-1].get("reply", {}) == {"address": "/mrt/pong", "args": ["end"]}:
                            break
                    return replies

        frames_before = daemon.generator.frames
        replies = off_loop(flood())
        errors = [r["reply"]["args"][1] for r in replies if r.get("reply", {}).get("address") == "/mrt/error"]
        assert "too many messages: slow down" in errors
        assert daemon.web.rate_limited == 2001 - 50, "past the burst of 50, nothing passes until time passes"
        assert len(errors) <= 20, "error replies are rate-limited too (20 a second, no time passed)"
        wait_for(lambda: daemon.generator.frames > frames_before + 25, 5, "the music to go on")
        assert daemon.status()["underruns"] == 0


def test_the_therapy_scene_shows_only_two_big_buttons_and_a_limited_volume(tmp_path, browser):
    with web_daemon(tmp_path, "therapy-two-buttons") as (daemon, engine, probe, url):
        for viewport in (TABLET, PHONE):
            page = open_page(browser, url, viewport)
            page.wait_for_selector("#big-buttons button")
            assert page.is_hidden("#full")
            assert page.locator("#big-buttons button").all_text_contents() == ["Next", "Back"]
            visible = page.evaluate("[...document.querySelectorAll('#reduced .fader, #reduced button')].filter(e => e.offsetParent).length")
            assert visible == 4, "two buttons, Stop and a volume, nothing else"
            assert page.is_hidden("#rec") and page.is_hidden("#engine")
        volume = page.locator("#reduced-volume .fader")
        box = volume.bounding_box()
        page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)  # all the way up
        wait_for(lambda: daemon.control.values["volume"] > -13, 5, "the volume to move")
        assert daemon.control.values["volume"] <= -12.0, "the scene's ceiling holds"
        page.wait_for_function("document.querySelector('#reduced-volume .value').textContent === '-12 dB'")
        assert page.evaluate("window.mrtd.scene.params.volume.high") == -12.0, "the fader itself stops at the ceiling"
        before = daemon.control.cue
        page.click("#big-buttons button >> text=Next")
        wait_for(lambda: daemon.control.cue != before, 5, "the big button to change the cue")


def test_mrtd_run_serves_the_page_and_says_where(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--output", "null", "--seconds", "1.5", "--no-midi",
         "--osc-port", "0", "--web-port", "0", "--scene-dir", str(tmp_path), "--record-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "web: http://127.0.0.1:" in result.stderr, result.stderr[-2000:]


def test_without_aiohttp_the_daemon_plays_on_and_says_so_in_one_line(tmp_path, monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "mrtd.inputs.web.server", None)
    with running_daemon(tmp_path, web=WebConfig(port=0), midi=False) as (daemon, engine):
        assert daemon.web is None
        wait_for(lambda: daemon.generator.frames > 5, 5, "the music")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("web surface")]
    assert lines == ["web surface off: aiohttp is not installed (a dependency of mrtd: pip install aiohttp)"]


def test_the_config_file_and_the_flags_set_the_web_surface(tmp_path):
    from mrtd.app.config import ConfigError, load_settings

    assert load_settings(None, {}).web == WebConfig(), "mrtd run serves the page on 127.0.0.1:7401 by default"
    path = tmp_path / "mrtd.yaml"
    path.write_text("web: {bind: 127.0.0.1, port: 7555, messages_per_second: 50}\n")
    settings = load_settings(path, {"web_port": 7666})
    assert (settings.web.port, settings.web.messages_per_second) == (7666, 50)
    assert settings.daemon_config().web == settings.web
    path.write_text("web: null\n")
    assert load_settings(path, {}).web is None
    path.write_text("web: {prot: 7401}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    assert "prot" in "\n".join(error.value.errors)


def test_prompts_are_added_edited_and_removed_from_the_page_and_the_status_line_fills_in(tmp_path, browser):
    with web_daemon(tmp_path, "tablet-xy") as (daemon, engine, probe, url):
        page = open_page(browser, url)
        page.fill("#new-name", "bells")
        page.fill("#new-text", "tubular bells in a cathedral")
        page.click("#add-prompt button")
        page.wait_for_selector('.prompt[data-prompt="bells"]')
        assert page.text_content('.prompt[data-prompt="bells"] .text') == "tubular bells in a cathedral"
        wait_for(lambda: daemon.control.prompt_texts.get("bells") == "tubular bells in a cathedral", 5, "the prompt")
        probe.send("/mrt/weight", "bells", 0.3)
        wait_for(lambda: weights(sync_state(probe)["/mrt/mix"]).get("bells") == pytest.approx(0.3), 5, "the weight")
        page.click('.prompt[data-prompt="bells"] button >> text=Edit')
        assert page.input_value("#new-name") == "bells"
        page.fill("#new-text", "tubular bells, dry")
        page.click("#add-prompt button")
        page.wait_for_function("document.querySelector('.prompt[data-prompt=\"bells\"] .text').textContent === 'tubular bells, dry'")
        assert weights(sync_state(probe)["/mrt/mix"])["bells"] == pytest.approx(0.3), "editing the text keeps the weight"
        page.click('.prompt[data-prompt="bells"] button[title="remove bells"]')
        page.wait_for_selector('.prompt[data-prompt="bells"]', state="detached")
        wait_for(lambda: "bells" not in daemon.control.prompt_texts, 5, "the prompt to go")
        page.wait_for_function("document.getElementById('underruns').textContent.endsWith('underruns') || document.getElementById('underruns').textContent.endsWith('underrun')")
        assert page.text_content("#engine").startswith("tone")
        assert page.text_content("#step-ms").endswith("/ 40 ms")
        # Control to sound at the pacing now, as /mrt/status says it, the margin in the tooltip.
        shown = page.text_content("#to-sound")
        assert shown.endswith(" ms to sound") and 40 < float(shown.split()[0]) < 1000, shown
        assert "; margin " in page.get_attribute("#to-sound", "title")


def test_the_keyboard_plays_while_held_and_latches_and_the_record_button_makes_a_take(tmp_path, browser):
    with web_daemon(tmp_path) as (daemon, engine, probe, url):
        page = open_page(browser, url)
        key = page.locator('#keys .key[data-pitch="60"]')
        box = key.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8)
        page.mouse.down()
        wait_for(lambda: set(daemon.control.notes.held) == {60}, 5, "the note while the key is held")
        page.mouse.up()
        wait_for(lambda: not daemon.control.notes.held, 5, "the note to end with the finger")

        page.click("#latch")
        for pitch in (60, 64, 67):
            page.click(f'#keys .key[data-pitch="{pitch}"]')
        wait_for(lambda: set(daemon.control.notes.held) == {60, 64, 67}, 5, "a latched chord")
        page.click('#keys .key[data-pitch="64"]')  # a latched key pressed again lets go
        wait_for(lambda: set(daemon.control.notes.held) == {60, 67}, 5, "one note let go")
        page.click("#latch")  # latch off: everything stops
        wait_for(lambda: not daemon.control.notes.held, 5, "latch off to clear the notes")

        page.click("#rec")
        wait_for(lambda: daemon.recorder.path, 5, "the recording to start")
        page.wait_for_function("document.getElementById('rec').textContent.includes('Stop')")
        frames = len(engine.seen)
        wait_for(lambda: len(engine.seen) > frames + 25, 10, "a second of music")
        page.click("#rec")
        wait_for(lambda: not daemon.recorder.path, 5, "the recording to stop")
        takes = list((tmp_path / "recordings").glob("*.wav"))
        assert len(takes) == 1 and takes[0].stat().st_size > 25 * 1920 * 4, takes


def _qr_image(lines: list[str], path: Path, scale: int = 6) -> None:
    """The printed code (half blocks, light on dark: a space is dark above and below) as a PGM."""
    halves = {"\u2588": (255, 255), "\u2580": (255, 0), "\u2584": (0, 255), " ": (0, 0), "\u00a0": (0, 0)}
    rows: list[list[int]] = []
    for line in lines:
        pairs = [halves[ch] for ch in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    width = len(rows[0]) + 8
    rows = [[255] * width] * 4 + [[255] * 4 + r + [255] * 4 for r in rows] + [[255] * width] * 4  # a quiet zone
    pixels = bytearray()
    for row in rows:
        line = bytes(v for v in row for _ in range(scale))
        pixels += line * scale
    path.write_bytes(f"P5 {width * scale} {len(rows) * scale} 255\n".encode() + pixels)


def test_off_loopback_at_a_terminal_mrtd_run_prints_a_code_that_scans_to_the_token_url(tmp_path):
    """A real terminal (a pty), the code decoded by Debian's zbarimg: it is the URL the log names."""
    import os
    import pty
    import re
    import select
    import shutil
    import subprocess
    import sys
    import time

    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is not installed: apt-get install zbar-tools (see .ci/run)")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mrtd", "run", "--engine", "synth", "--output", "null", "--no-midi", "--osc-port", "0",
         "--web-bind", "0.0.0.0", "--web-port", "0", "--osc-allow", "127.0.0.0/8", "--scene-dir", str(tmp_path),
         "--record-dir", str(tmp_path)], stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 60
    try:
        # The log line that ends with "ready" (not a word like "already" inside another line).
        while not re.search(rb"\bready\r?$", seen, re.M) and time.monotonic() < deadline and process.poll() is None:
            if select.select([controller], [], [], 0.5)[0]:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
    finally:
        process.terminate()
        process.wait(20)
        os.close(controller)
    text = seen.decode("utf-8", "replace").replace("\r", "")
    url = re.search(r"web: (http://\S+\?token=\S+)", text)
    assert url, text[-2000:]
    code = [line for line in text.splitlines() if line and set(line) <= set("\u2588\u2580\u2584 \u00a0")
            and "\u2588" in line]
    assert len(code) > 10, text[-2000:]
    _qr_image(code, tmp_path / "code.pgm")
    scanned = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "code.pgm")], capture_output=True, text=True)
    assert scanned.stdout.strip() == url.group(1), scanned.stderr


def test_the_page_shows_the_daemons_warnings_such_as_prompts_that_cannot_steer_mrt2(tmp_path, browser, monkeypatch):
    from engines_for_tests import RecordingEngine

    class Mrt2StandIn(RecordingEngine):
        name = "mrt2"  # the built-in embedder's tokens mean nothing to a trained model

    monkeypatch.setenv("MAGENTA_HOME", str(tmp_path / "magenta"))  # no MusicCoCa files there
    with web_daemon(tmp_path, engine=Mrt2StandIn()) as (daemon, engine, probe, url):
        assert daemon.status()["style_warning"]
        page = open_page(browser, url, PHONE)
        page.wait_for_function("document.getElementById('warnings').textContent.includes('prompts will not steer the mrt2 model')")
        assert str(tmp_path / "magenta") in page.text_content("#warnings"), "it says where the files go"
        assert page.is_visible("#warnings"), "on a phone too"


def test_the_scene_timeline_moves_the_page(tmp_path, browser):
    """A cue the timeline fires by itself reaches the page as any other input's change does."""
    scene = tmp_path / "timeline.yaml"
    scene.write_text("name: timeline\nprompts: {a: alpha, b: beta}\n"
                     "cues:\n  - {name: start, at: 0, mix: {a: 1}}\n  - {name: later, at: 4, mix: {b: 1}}\n")
    with web_daemon(tmp_path, scene, scene_dir=str(tmp_path)) as (_, _, _, url):
        page = open_page(browser, url)
        page.wait_for_function("document.querySelector('#cues li.current')?.textContent === 'start'")
        page.wait_for_function("document.querySelector('#cues li.current')?.textContent === 'later'", timeout=10_000)
        page.wait_for_function("document.querySelector('.prompt[data-prompt=\"b\"] .fader .value')?.textContent === '1.00'")
        assert page.text_content('.prompt[data-prompt="a"] .fader .value') == "0.00"


def test_the_fade_bar_follows_a_cues_crossfade_to_the_end(tmp_path, browser):
    """The page's fade bar comes from what the generation thread published when the cue fired:
    part way while the 3 s crossfade runs, full once it is over, empty before any cue."""
    scene = tmp_path / "fades.yaml"
    scene.write_text("name: fades\nprompts: {a: alpha, b: beta}\n"
                     "cues:\n  - {name: slow, mix: {b: 1}, fade: 3}\n")
    with web_daemon(tmp_path, scene, scene_dir=str(tmp_path)) as (_, _, _, url):
        page = open_page(browser, url)
        page.wait_for_function("window.mrtd.status.fade === null")
        page.click("#go")
        page.wait_for_function("window.mrtd.status.fade?.cue === 'slow' && window.mrtd.status.fade.progress > 0"
                               " && window.mrtd.status.fade.progress < 1")
        assert page.evaluate("window.mrtd.status.fade.seconds") == 3.0
        width = page.evaluate("parseFloat(document.querySelector('#fade').firstElementChild.style.width)")
        assert 0 < width < 100, "the bar shows a crossfade in progress"
        page.wait_for_function("window.mrtd.status.fade.progress === 1", timeout=10_000)
        page.wait_for_function("document.querySelector('#fade').firstElementChild.style.width === '100%'")


# -- the page says what plays ------------------------------------------------------------------


def open_page_sending(browser, url: str, viewport: dict | None = None):
    """open_page, also yielding the list of every message the page sends on its WebSocket."""
    context = browser.new_context(viewport=viewport or TABLET, bypass_csp=True)
    page = context.new_page()
    sent: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.goto(url)
    page.wait_for_function("window.mrtd && window.mrtd.frames > 0 && document.getElementById('conn').classList.contains('on')")
    return page, sent


def influence_status(daemon, **extra) -> None:
    """The page's status push as the daemon's status dict plus `extra` (what another part of the
    daemon would add); everything else stays the real daemon's."""
    import dataclasses

    surface = daemon.web.host
    real = surface._services.status
    surface._services = dataclasses.replace(surface._services, status=lambda: {**real(), **extra})


def test_after_a_cue_the_xy_point_shows_where_the_mix_is_or_that_it_is_off_the_surface(tmp_path, browser):
    with web_daemon(tmp_path, "tablet-xy") as (daemon, _, probe, url):
        page = open_page(browser, url)
        box = page.locator("#xy-canvas").bounding_box()
        # The synth corner, (1, 0): the surface draws the prompts' box with 8 % to spare each side.
        corner = (1 + 0.08) / 1.16
        page.mouse.click(box["x"] + box["width"] * corner, box["y"] + box["height"] * corner)
        wait_for(lambda: weights(sync_state(probe)["/mrt/mix"]).get("synth", 0) > 0.95, 5, "the synth corner")
        page.wait_for_function("window.mrtd.xyShown?.from === 'xy' && window.mrtd.xyShown.point[0] > 0.95"
                               " && window.mrtd.xyShown.point[1] < 0.05")
        probe.send("/mrt/cue", "start")  # strings 100 % over 2 s
        wait_for(lambda: weights(sync_state(probe)["/mrt/mix"]) == {"strings": 1.0, "synth": 0.0, "drums": 0.0, "voice": 0.0},
                 10, "the cue's mix")
        page.wait_for_function("document.getElementById('xy-read').textContent === 'x 0.00 · y 0.00 (where the mix is)'",
                               timeout=10_000)
        point = page.evaluate("window.mrtd.xyShown.point")
        assert point == [0, 0], "the point sits on the strings corner, where the mix is"
        assert page.text_content('.xy-label[data-prompt="strings"]') == "strings 100%"
        probe.send("/mrt/mix", "strings", 0.5, "synth", 0.5, "drums", 0, "voice", 0)  # no point of the surface gives this
        page.wait_for_function("window.mrtd.xyShown.point === null", timeout=10_000)
        assert page.text_content("#xy-read") == "off the surface: touch to place"
        assert "off" in page.get_attribute("#xy", "class")


def test_a_prompts_fader_and_the_surface_show_the_same_share_of_the_mix(tmp_path, browser):
    """The mix's raw weights do not sum to 1: each fader shows its weight, and the share heard
    (weight / sum) is the one number both the fader and the surface give as a percentage."""
    with web_daemon(tmp_path, "tablet-xy") as (daemon, _, probe, url):
        page = open_page(browser, url)
        probe.send("/mrt/mix", "strings", 0.94, "synth", 0.25, "drums", 0, "voice", 0)
        page.wait_for_function("document.querySelector('.prompt[data-prompt=\"strings\"] .fader .value')?.textContent === '0.94'"
                               " && document.querySelector('.xy-label[data-prompt=\"synth\"]')?.textContent === 'synth 21%'")
        mix = weights(sync_state(probe)["/mrt/mix"])
        total = sum(mix.values())
        for name, weight in mix.items():
            share = f"{100 * weight / total:.0f}%"
            assert page.text_content(f'.prompt[data-prompt="{name}"] .fader .value') == f"{weight:.2f}"
            assert page.text_content(f'.prompt[data-prompt="{name}"] .fader .share') == share, name
            assert page.text_content(f'.xy-label[data-prompt="{name}"]') == f"{name} {share}", name
        assert page.text_content('.prompt[data-prompt="strings"] .fader .share') == "79%"


UNCLIPPED = """(selector) => [...document.querySelectorAll(selector)].map((e) => {
  // Whole within the viewport and within every ancestor that clips, and on top at its centre.
  const r = e.getBoundingClientRect();
  let inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
  for (let a = e.parentElement; a && inside; a = a.parentElement) {
    if (getComputedStyle(a).overflow === 'visible') continue;
    const c = a.getBoundingClientRect();
    inside = r.left >= c.left - 0.5 && r.right <= c.right + 0.5 && r.top >= c.top - 0.5 && r.bottom <= c.bottom + 0.5;
  }
  const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return [e.id || e.textContent.trim(), inside && !!top && (top === e || e.contains(top))];
})"""


def test_at_1024x768_every_cue_and_the_add_prompt_form_are_in_sight(tmp_path, browser):
    with web_daemon(tmp_path, "live-coding") as (daemon, _, probe, url):
        page = open_page(browser, url, TABLET)
        page.wait_for_function("document.querySelectorAll('#cues li').length === 5")
        shown = page.evaluate(UNCLIPPED, "#cues li, #add-prompt input, #add-prompt button, #go, #next")
        assert len(shown) == 10  # five cues, GO, Next, the two inputs and Add
        assert [name for name, ok in shown if not ok] == [], "cut off at 1024x768"
        # Every prompt is there too, in a list that scrolls (the form stays put below it).
        assert page.evaluate("getComputedStyle(document.getElementById('prompts')).overflowY") == "auto"
        for name in ("acid", "ambient", "break", "dub"):
            page.evaluate("(n) => document.querySelector(`.prompt[data-prompt='${n}'] .fader`).scrollIntoView({block: 'nearest'})", name)
            assert page.evaluate(UNCLIPPED, f'.prompt[data-prompt="{name}"] .fader')[0][1], name
        assert all(ok for _, ok in page.evaluate(UNCLIPPED, "#add-prompt input, #add-prompt button"))


def test_an_underrun_is_red_while_recent_and_its_count_stays(tmp_path, browser):
    """The count comes from the daemon's status; red lasts 10 s of the daemon's audio clock.
    The underrun is the test's own (counted as the callback counts one); the daemon plays at the
    `safe` margin so that no real one, from the browser starting beside it on a 2-core machine,
    blurs which the page shows (the default 12 ms margin widens only after a first gap)."""
    with web_daemon(tmp_path, latency="safe") as (daemon, _, probe, url):
        page = open_page(browser, url)
        page.wait_for_function("window.mrtd.status.frames > 0")
        assert page.text_content("#underruns") == "0 underruns"
        daemon.playout.underruns += 1  # what the audio callback counts when the ring runs dry
        page.wait_for_function("document.getElementById('underruns').textContent === '1 underrun'"
                               " && document.getElementById('underruns').classList.contains('bad')")
        rose_at = page.evaluate("window.mrtd.status.frames")
        page.wait_for_function("!document.getElementById('underruns').classList.contains('bad')", timeout=30_000)
        assert page.evaluate("window.mrtd.status.frames") >= rose_at + 10 * 25 - 5, "red for 10 s of audio"
        assert page.text_content("#underruns") == "1 underrun", "the total stays in sight"
        later = open_page(browser, url, PHONE)  # a page opened long after: an old underrun is not news
        later.wait_for_function("document.getElementById('underruns').textContent === '1 underrun'")
        assert "bad" not in later.get_attribute("#underruns", "class")


def test_the_therapy_page_names_the_cue_and_its_stop_button_sends_mrt_stop(tmp_path, browser):
    with web_daemon(tmp_path, "therapy-two-buttons") as (daemon, _, probe, url):
        page, sent = open_page_sending(browser, url)
        assert page.text_content("#now-cue") == "the opening mix", "no cue has fired yet"
        page.click("#big-buttons button >> text=Next")
        wait_for(lambda: daemon.control.cue is not None, 5, "the big button to fire a cue")
        page.wait_for_function("(c) => document.getElementById('now-cue').textContent === c", arg=daemon.control.cue)
        assert page.is_visible("#now-cue")
        assert page.text_content("#stop-play") == "■ Stop"
        page.click("#stop-play")
        page.wait_for_function("() => true")  # one round through the page's event loop
        wait_for(lambda: {"address": "/mrt/stop", "args": []} in sent, 5, "the page to send /mrt/stop")


def test_the_page_shows_resting_and_opening_hours_from_the_daemons_status(tmp_path, browser):
    """What the clock adds to the status (resting, hours) reaches both layouts."""
    with web_daemon(tmp_path, "therapy-two-buttons") as (daemon, _, probe, url):
        influence_status(daemon, resting=True, hours="closed until 10:00")
        page, sent = open_page_sending(browser, url, PHONE)
        page.wait_for_function("document.getElementById('stop-play').textContent === '▶ Play'")
        assert page.text_content("#now-cue") == "nothing: resting"
        assert page.is_visible("#hours") and page.text_content("#hours") == "closed until 10:00"
        page.click("#stop-play")
        wait_for(lambda: {"address": "/mrt/start", "args": []} in sent, 5, "the page to send /mrt/start")
        influence_status(daemon, resting=False, hours="")
        page.wait_for_function("document.getElementById('stop-play').textContent === '■ Stop'")
        assert page.is_hidden("#hours")


def test_the_therapy_page_stops_to_silence_and_plays_again(tmp_path, browser):
    """Needs the daemon's /mrt/stop and /mrt/start and status['resting'] (the clock's part)."""
    with web_daemon(tmp_path, "therapy-two-buttons") as (daemon, _, probe, url):
        page, sent = open_page_sending(browser, url)
        page.click("#stop-play")
        wait_for(lambda: daemon.status().get("resting") is True, 15, "the fade to silence and the rest")
        page.wait_for_function("document.getElementById('stop-play').textContent === '▶ Play'")
        assert page.text_content("#now-cue") == "nothing: resting"
        assert not page.text_content("#errors"), "the daemon knows the address"
        page.click("#stop-play")
        wait_for(lambda: daemon.status().get("resting") is False, 15, "the music back")
        page.wait_for_function("document.getElementById('stop-play').textContent === '■ Stop'")
        assert [m["address"] for m in sent if m["address"] in ("/mrt/stop", "/mrt/start")] == ["/mrt/stop", "/mrt/start"]


def test_the_page_says_where_a_recording_goes_and_where_it_went(tmp_path, browser):
    with web_daemon(tmp_path) as (daemon, _, probe, url):
        page = open_page(browser, url)
        page.click("#rec")
        wait_for(lambda: daemon.recorder.path, 5, "the recording to start")
        path = daemon.recorder.path
        page.wait_for_function("(n) => document.getElementById('rec-file').textContent === n", arg=Path(path).name)
        assert page.is_visible("#rec-file") and page.get_attribute("#rec-file", "title") == path
        page.click("#rec")
        wait_for(lambda: not daemon.recorder.path, 5, "the recording to stop")
        page.wait_for_function("(p) => document.querySelector('#notices code')?.textContent === p", arg=path)
        assert Path(path).exists() and Path(path).stat().st_size > 44, "the file the page names is there"
        page.wait_for_selector("#rec-file", state="hidden")  # once the status says no take is running
        # A take started and stopped elsewhere (OSC) is named too: the page reads the status.
        probe.send("/mrt/record/start", "from-osc")
        wait_for(lambda: (daemon.recorder.path or "").endswith("from-osc.wav"), 5, "the OSC take")
        other = daemon.recorder.path
        page.wait_for_function("document.getElementById('rec-file').textContent === 'from-osc.wav'")
        probe.send("/mrt/record/stop")
        page.wait_for_function("(p) => document.querySelector('#notices code')?.textContent === p", arg=other)


def test_the_listen_switches_follow_what_the_page_and_osc_say_and_the_page_shows_what_is_heard(tmp_path, browser):
    import aubio  # noqa: F401  (the listen extra, in .[test]: a missing one fails here, never skips)
    from listen_signals import progression
    from test_listen import write_wav

    write_wav(tmp_path / "band.wav", progression("plucked", laps=1).audio)
    with web_daemon(tmp_path, listen=f"wav:{tmp_path / 'band.wav'}") as (daemon, engine, probe, url):
        page = open_page(browser, url)
        page.wait_for_selector("#listen:not([hidden])")
        page.click("#listen-notes")
        wait_for(lambda: daemon.control.values["listen_notes"] is True, 5, "the page's switch to reach the daemon")
        wait_for(lambda: engine.seen and (engine.seen[-1].notes > 0).any(), 10, "heard notes to reach the model")
        page.wait_for_function("document.querySelector('#listen-notes').classList.contains('on')")
        page.wait_for_function("/ · (C|F|G) · /.test(document.querySelector('#listen-heard').textContent)")
        probe.send("/mrt/listen/style", 0.5)  # OSC moves the page's switch too
        page.wait_for_function("document.querySelector('#listen-style').classList.contains('on')")
        page.click("#listen-style")
        wait_for(lambda: daemon.control.values["listen_style"] == 0.0, 5, "style switched off from the page")
        assert daemon.control.values["listen_tempo"] is False


def test_the_bank_buttons_save_and_load_and_show_only_with_a_state_folder(tmp_path, browser):
    from mrtd.core.banks import bank_path
    from mrtd.engines.synth import SynthEngine

    with web_daemon(tmp_path, engine=SynthEngine()) as (_daemon, _, _probe, url):
        page = open_page(browser, url)
        page.wait_for_function("window.mrtd.state['/mrt/web/status'] !== undefined")
        assert page.locator("#banks").is_hidden(), "no state folder: no bank buttons"
    state = tmp_path / "state"
    with web_daemon(tmp_path, engine=SynthEngine(), state_dir=str(state), engine_state_interval_s=0) as (daemon, _, _probe, url):
        page = open_page(browser, url)
        page.wait_for_selector("#banks", state="visible")
        page.click("#bank-save-1")
        page.wait_for_function("document.getElementById('bank-said').textContent === 'saving to bank 1'")
        wait_for(bank_path(state, 1).is_file, 10, "bank 1 written")
        playing = daemon.generator.engine
        page.click("#bank-load-1")
        page.wait_for_function("document.getElementById('bank-said').textContent === 'loading bank 1'")
        wait_for(lambda: daemon.generator.engine is not playing and not daemon.generator.swapping, 20, "the load")
        assert daemon.generator.engine.loaded_bank == 1
        page.click("#bank-factory")
        page.wait_for_function("document.getElementById('bank-said').textContent === 'back to factory'")
