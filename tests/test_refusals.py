"""A refused web page or OSC sender is logged with its address and why, at most a line per address a
minute plus a summary of what that held back, in bounded memory (real loopback sockets, real allow-lists)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from conftest import running_daemon, wait_for
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.refusals import RefusalLog
from mrtd.inputs.web.config import WebConfig
from osc_probe import OscProbe

LOG = logging.getLogger("test.refusals")


def _lines(caplog, start: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


def test_one_line_per_address_a_minute_and_a_summary_of_the_rest(caplog):
    now = [0.0]
    refusals = RefusalLog("OSC", LOG, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(30):
            refusals.refused("192.0.2.7", "not in the OSC allow-list 10.0.0.0/8")
        refusals.refused("192.0.2.8", "not in the OSC allow-list 10.0.0.0/8")
        now[0] = 30.0
        refusals.flush()  # not due yet: a minute has not passed
        assert _lines(caplog, "OSC") == ["OSC: refused 192.0.2.7: not in the OSC allow-list 10.0.0.0/8",
                                         "OSC: refused 192.0.2.8: not in the OSC allow-list 10.0.0.0/8"]
        now[0] = 61.0
        refusals.flush()
        assert _lines(caplog, "OSC")[2:] == ["OSC: 29 more refused from 1 address in the last 61 s"]
        refusals.refused("192.0.2.7", "not in the OSC allow-list 10.0.0.0/8")  # a minute on: named again
        assert _lines(caplog, "OSC")[3:] == ["OSC: refused 192.0.2.7: not in the OSC allow-list 10.0.0.0/8"]
    assert refusals.total == 32


def test_a_scan_from_many_addresses_is_bounded_in_lines_and_memory(caplog):
    now = [0.0]
    refusals = RefusalLog("web", LOG, max_addresses=100, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for i in range(5000):
            refusals.refused(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "wrong or missing token")
        refusals.flush(final=True)
    lines = _lines(caplog, "web")
    assert len(lines) == 101, "100 addresses named, then one summary"
    assert lines[-1] == "web: 4900 more refused from at least 100 addresses in the last 0 s"
    assert len(refusals._named) <= 100 and len(refusals._held_from) <= 100
    now[0] = 61.0  # a minute on, the addresses named are forgotten: a new one is named again
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        refusals.refused("192.0.2.200", "wrong or missing token")
    assert _lines(caplog, "web: refused 192.0.2.200")


def test_a_refused_osc_sender_is_logged_once_with_its_address_and_the_allow_list(tmp_path, caplog):
    """Only 10.0.0.0/8 may send; the probe sends from 127.0.0.1 (loopback not let in)."""
    osc = OscConfig(port=0, allow=["10.0.0.0/8"], allow_loopback=False)
    with caplog.at_level(logging.INFO), running_daemon(tmp_path, osc=osc, midi=False) as (daemon, _):
        probe = OscProbe(daemon.osc.port)
        try:
            for _ in range(40):
                probe.send("/mrt/temperature", 2.0)
            wait_for(lambda: daemon.osc.counters.refused >= 40, 10, "the refusals")
        finally:
            probe.close()
    assert _lines(caplog, "OSC: refused") == ["OSC: refused 127.0.0.1: not in the OSC allow-list 10.0.0.0/8"]
    assert _lines(caplog, "OSC: 39 more refused from 1 address"), "the stop sums up what was held back"


def test_a_refused_page_is_logged_with_its_address_and_why(tmp_path, caplog):
    web = WebConfig(bind="0.0.0.0", port=0, allow=["127.0.0.0/8"])
    with caplog.at_level(logging.INFO), running_daemon(tmp_path, web=web, midi=False) as (daemon, _):
        port, token = daemon.web.port, daemon.web.token
        now = [0.0]
        daemon.web.refusals.clock = lambda: now[0]

        async def visits() -> list[int]:
            statuses = []
            async with aiohttp.ClientSession() as session:
                for _ in range(10):
                    async with session.get(f"http://127.0.0.1:{port}/?token=wrong") as r:
                        statuses.append(r.status)
                now[0] = 61.0  # a minute on: the same address is named again, for another reason
                async with session.get(f"http://127.0.0.1:{port}/ws?token={token}",
                                       headers={"Origin": "http://evil.example", "Upgrade": "websocket",
                                                "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
                    statuses.append(r.status)
                async with session.get(f"http://127.0.0.1:{port}/?token={token}") as r:
                    statuses.append(r.status)
            return statuses

        assert asyncio.run(visits()) == [403] * 11 + [200]
    lines = _lines(caplog, "web: refused")
    assert lines == ["web: refused 127.0.0.1: wrong or missing token (open the URL mrtd printed at start)",
                     "web: refused 127.0.0.1: origin 'http://evil.example' may not drive this daemon"]
    assert _lines(caplog, "web: 9 more refused from 1 address")
    assert token not in "\n".join(r.getMessage() for r in caplog.records if "refused" in r.getMessage())


def test_a_page_outside_the_allow_list_is_told_less_than_the_log(tmp_path, caplog):
    """The log names the allow-list; the refused client only hears that it is not in it. (Loopback is
    always let in, so the refusal is driven through the server's own check with a foreign address.)"""
    from mrtd.inputs.web import server as web_server

    with caplog.at_level(logging.INFO), running_daemon(tmp_path, web=WebConfig(bind="0.0.0.0", port=0, allow=["10.0.0.0/8"]),
                                                       midi=False) as (daemon, _):
        class Request:
            remote = "192.0.2.9"
            query: dict = {}
            host = "192.0.2.1"

        response = daemon.web._refused(Request(), daemon.web._refusal(Request()))
        assert response.status == 403 and response.text == f"mrtd: {web_server.NOT_ALLOWED}\n"
    assert _lines(caplog, "web: refused") == ["web: refused 192.0.2.9: client not in the allow-list 10.0.0.0/8"]
