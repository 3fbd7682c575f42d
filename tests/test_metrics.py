"""Watching it from afar: /metrics in Prometheus' text format and /health, on the web port, over real HTTP."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import running_daemon, wait_for
from mrtd.app.metrics import MAX_LABEL
from mrtd.app.web_surface import machine_addresses
from mrtd.inputs.web.config import WebConfig
from osc_probe import OscProbe


def get(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, str, str]:
    """(status, content type, body) of a GET over loopback (or `host`)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def scrape(port: int) -> dict[str, list]:
    """/metrics parsed by prometheus_client's own parser: sample name -> its samples."""
    status, kind, body = get(port, "/metrics")
    assert status == 200, body
    assert kind.startswith("text/plain"), kind
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    [match] = [s for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    return match.value


@contextlib.contextmanager
def health_clock(daemon):
    """/health's judge on a clock the test moves: `step()` makes the next look a fresh one
    (looks closer than a second get the last answer), without waiting a second for it."""
    now = [time.monotonic()]
    daemon.health.clock = lambda: now[0]

    def step() -> None:
        now[0] += 2.0

    yield step


def test_a_scrape_counts_frames_and_names_the_engine_the_scene_and_the_cue(tmp_path):
    scene = tmp_path / "rooms.yaml"
    long_name = 'north "room" ' + "x" * 100  # untrusted: quotes, and longer than a label may be
    scene.write_text(json.dumps({"name": long_name, "prompts": {"a": "alpha", "b": "beta"},
                                 "cues": [{"name": "dawn", "mix": {"a": 1}}, {"name": "dusk", "mix": {"b": 1}}]}))
    with running_daemon(tmp_path, web=WebConfig(port=0), midi=False, scene=str(scene), scene_dir=str(tmp_path)) as (daemon, _):
        wait_for(lambda: daemon.scenes.shown() is not None and daemon.generator.frames > 5, 10, "the scene")
        port = daemon.web.port
        first = scrape(port)
        frames = value(first, "mrtd_frames_total")
        assert frames > 0
        assert value(first, "mrtd_engine_info", engine="tone") == 1.0
        [info] = first["mrtd_scene_info"]
        assert info.labels["scene"] == long_name[: MAX_LABEL - 1] + "…", "the scene's name, cut to the label limit"
        assert info.labels["cue"] == ""
        assert value(first, "mrtd_audio_flowing") == 1.0
        assert value(first, "mrtd_resting") == 0.0
        assert value(first, "mrtd_underruns_total") == 0.0
        assert value(first, "mrtd_clients", kind="web") == 0.0
        assert "mrtd_last_error_age_seconds" not in first, "nothing has failed yet"

        probe = OscProbe(daemon.osc.port)
        try:
            probe.send("/mrt/subscribe")
            probe.send("/mrt/cue", "dusk")
            wait_for(lambda: daemon.control.cue == "dusk", 5, "the cue")
            wait_for(lambda: daemon.generator.frames > frames + 10, 5, "more frames")  # the audio clock: 0.4 s
            second = scrape(port)
            probe.send("/mrt/stop", 0.0)  # silence on purpose: a room at rest, not an outage
            # Scrapes within 0.1 s share one render: wait on what a scraper sees.
            wait_for(lambda: value(scrape(port), "mrtd_resting") == 1.0, 5, "/mrt/stop to show as a room at rest")
        finally:
            probe.close()
        assert value(second, "mrtd_frames_total") > frames + 10, "the frames counter advances between scrapes"
        assert second["mrtd_scene_info"][0].labels["cue"] == "dusk"
        assert value(second, "mrtd_clients", kind="osc") == 1.0, "the OSC subscriber is counted"
        mean, p99 = value(second, "mrtd_engine_step_seconds", stat="mean"), value(second, "mrtd_engine_step_seconds", stat="p99")
        assert 0 < mean <= p99 < 0.04, "the tone engine's steps, in seconds, within the frame"


def test_health_is_200_while_the_audio_flows_and_503_with_why_after_underruns_or_when_it_stops(tmp_path):
    from engines_for_tests import RecordingEngine

    engine = RecordingEngine()
    with running_daemon(tmp_path, engine=engine, web=WebConfig(port=0), midi=False) as (daemon, _), \
            health_clock(daemon) as step:
        port = daemon.web.port
        wait_for(lambda: daemon.generator.frames > 10, 5, "the music")
        step()
        status, _, body = get(port, "/health")
        assert (status, body) == (200, "mrtd: playing\n")

        before = daemon.status()["underruns"]
        engine.step_seconds = 0.3  # steps slower than the lead: the ring runs dry
        wait_for(lambda: daemon.status()["underruns"] > before, 10, "an underrun")
        engine.step_seconds = 0.0
        underruns, made = daemon.status()["underruns"], daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > made + 2, 5, "the slow step to end")  # else: "no new frame"
        step()
        status, _, body = get(port, "/health")
        assert status == 503 and " in the last " in body and "underrun" in body, body
        samples = scrape(port)
        assert value(samples, "mrtd_underruns_total") >= underruns > before

        def healthy_again() -> bool:
            step()
            return get(port, "/health")[0] == 200

        wait_for(healthy_again, 10, "/health to say 200 once frames flow without underruns")

        daemon.runner.stop()  # the generation loop wedges: no new frames
        step()
        status, _, body = get(port, "/health")
        assert status == 503 and "no new frame" in body, body
        assert value(scrape(port), "mrtd_audio_flowing") == 0.0


def test_an_engine_fault_shows_as_a_count_and_an_error_age(tmp_path):
    from test_faults import FlakyEngine

    engine = FlakyEngine(raise_on={20})
    with running_daemon(tmp_path, engine=engine, web=WebConfig(port=0), midi=False) as (daemon, _):
        wait_for(lambda: daemon.generator.faults == 1, 5, "the fault")
        samples = scrape(daemon.web.port)
        assert value(samples, "mrtd_engine_faults_total") == 1.0
        assert 0 <= value(samples, "mrtd_last_error_age_seconds") < 5


def test_metrics_and_health_need_the_allow_list_but_not_the_token(tmp_path):
    lan = next((a for a in machine_addresses() if ":" not in a and not a.startswith("127.")), None)
    assert lan is not None, "this test needs an address besides loopback to connect from"
    web = WebConfig(bind="0.0.0.0", port=0, allow=["198.51.100.0/24"])  # TEST-NET-2: not this machine
    with running_daemon(tmp_path, web=web, midi=False) as (daemon, _):
        port = daemon.web.port
        wait_for(lambda: daemon.generator.frames > 5, 5, "the music")
        assert get(port, "/")[0] == 403, "the page needs the token"
        assert get(port, "/health")[0] == 200, "a health check from an allowed address needs no token"
        assert "mrtd_frames_total" in scrape(port)
        for path in ("/health", "/metrics"):
            status, _, body = get(port, path, host=lan)  # from this machine's LAN address: outside the list
            assert (status, body) == (403, "mrtd: client not in the allow-list\n"), path


def test_without_prometheus_client_metrics_says_so_and_health_still_answers(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if it were not installed
    import mrtd.app

    monkeypatch.delitem(sys.modules, "mrtd.app.metrics")  # imported afresh, it meets the missing library
    monkeypatch.delattr(mrtd.app, "metrics")
    with running_daemon(tmp_path, web=WebConfig(port=0), midi=False) as (daemon, _):
        wait_for(lambda: daemon.generator.frames > 5, 5, "the music")
        assert get(daemon.web.port, "/metrics")[::2] == (501, "mrtd: /metrics needs prometheus-client (pip install prometheus-client)\n")
        assert get(daemon.web.port, "/health")[0] == 200
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("metrics off")] == [
        "metrics off: prometheus-client is not installed (pip install prometheus-client)"]


def test_the_health_judge_answers_looks_within_a_second_with_the_last_answer_and_says_why():
    """systemd.Progress, the watchdog's own definition, with /health's min_look_s: a checker
    asking 100 times a second is not told "no new frame" between two 40 ms frames."""
    from mrtd.app.systemd import Progress

    frames, underruns, device, now = [0], [0], [""], [100.0]
    judge = Progress(lambda: frames[0], lambda: underruns[0], clock=lambda: now[0],
                     device_problem=lambda: device[0], min_look_s=1.0)
    assert judge.why() == "", "just started: healthy until a second has passed"
    now[0] += 1.0
    frames[0] = 25
    assert judge.why() == ""
    now[0] += 0.04
    assert judge.why() == "", "no new frame in 40 ms: too soon to judge, the last answer stands"
    now[0] += 1.0
    frames[0], underruns[0] = 50, 2
    assert judge.why() == "2 underruns in the last 1.0 s"
    now[0] += 0.5
    frames[0] = 60
    assert judge.why() == "2 underruns in the last 1.0 s", "within the second: the same answer"
    now[0] += 0.5
    assert judge(), "recovered: frames, no new underrun"
    now[0] += 3.0
    assert judge.why() == "no new frame in the last 3.0 s"
    frames[0], device[0] = 90, "audio device lost, retrying"
    now[0] += 1.0
    assert judge.why() == "audio device lost, retrying"


def test_scrapes_within_a_tenth_of_a_second_share_one_render_and_open_pages_count(tmp_path):
    """However often /metrics is asked, the status is read at most 10 times a second."""
    import asyncio

    import aiohttp

    with running_daemon(tmp_path, web=WebConfig(port=0), midi=False) as (daemon, _):
        now = [time.monotonic()]
        daemon.web.host.clock = lambda: now[0]  # the render cache's clock, frozen until moved
        port = daemon.web.port
        wait_for(lambda: daemon.generator.frames > 5, 5, "the music")
        first = scrape(port)
        made = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames > made + 5, 5, "more frames")
        assert value(scrape(port), "mrtd_frames_total") == value(first, "mrtd_frames_total"), "the same render"

        async def with_a_page_open() -> dict:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"http://127.0.0.1:{port}/ws"):
                    wait_for(lambda: len(daemon.web.pages) == 1, 5, "the page")
                    now[0] += 0.2
                    return await asyncio.get_running_loop().run_in_executor(None, scrape, port)

        second = asyncio.run(with_a_page_open())
        assert value(second, "mrtd_frames_total") > made + 5, "later than a tenth of a second: a fresh render"
        assert value(second, "mrtd_clients", kind="web") == 1.0
