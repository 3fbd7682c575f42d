"""The tablet keeps working: the web token is kept in the state folder across restarts (`mrtd web-token
--rotate` makes a new one), and the printed URL names an address of this machine the allow-list admits,
or the daemon says at start that none is."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import stat
import subprocess
import sys

import pytest

from conftest import running_daemon
from mrtd.app.web_surface import machine_addresses, url_host
from mrtd.app.web_token import MAX_BYTES, kept_token, read_token, token_path
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.web.config import WebConfig
from web_rig import chromium, open_page

OFF_LOOPBACK = WebConfig(bind="0.0.0.0", port=0, allow=["127.0.0.0/8"])


def _nets(*cidrs: str) -> list:
    return [ipaddress.ip_network(c) for c in cidrs]


def _web_token(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", "web-token", *args], capture_output=True, text=True, timeout=60)


def test_the_token_is_kept_private_in_the_state_folder_and_reused(tmp_path):
    token = kept_token(tmp_path / "state")
    assert kept_token(tmp_path / "state") == token and read_token(tmp_path / "state") == token
    assert stat.S_IMODE(os.stat(token_path(tmp_path / "state")).st_mode) == 0o600, "only mrtd's user may read it"
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["web-token"], "written atomically: no temporary left"


@pytest.mark.parametrize("content, why", [(b"\xff\xfe junk \x00", "wrong characters or length"),
                                          (b"a" * (MAX_BYTES + 10), f"over {MAX_BYTES} bytes"),
                                          (b"short", "wrong characters or length")])
def test_a_corrupt_token_file_is_replaced_with_one_line(tmp_path, caplog, content, why):
    path = token_path(tmp_path)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        token = kept_token(tmp_path)
    assert read_token(tmp_path) == token and len(token) == 16
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and why in lines[0] and "junk" not in lines[0] and "aaaa" not in lines[0]


def test_a_restarted_daemon_serves_the_page_at_the_same_url(tmp_path):
    """Start with a state folder and the page off loopback, stop, start again: the URL the tablet
    has still opens the page, and its WebSocket connects (a real Chromium)."""
    state = str(tmp_path / "state")
    with running_daemon(tmp_path, web=OFF_LOOPBACK, state_dir=state, midi=False) as (daemon, _):
        url = f"http://127.0.0.1:{daemon.web.port}/?token={daemon.web.token}"
        port = daemon.web.port
    printed = _web_token("--state-dir", state)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip().endswith(url.split("?")[1]), "mrtd web-token prints the token the daemon served"
    with running_daemon(tmp_path, web=WebConfig(bind="0.0.0.0", port=port, allow=["127.0.0.0/8"]),
                        state_dir=state, midi=False) as (daemon, _), chromium() as browser:
        page = open_page(browser, url)  # waits for the page's socket to connect and frames to arrive
        response = page.context.request.get(url)
        assert response.status == 200
        page.context.close()


def test_rotate_makes_a_new_token_which_the_next_start_serves_and_the_old_url_stops(tmp_path):
    import urllib.error
    import urllib.request

    state = str(tmp_path / "state")
    old = kept_token(state)
    rotated = _web_token("--state-dir", state, "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().rsplit("token=", 1)[1]
    assert new != old and read_token(state) == new
    assert "a running mrtd serves it from its next start" in rotated.stderr
    with running_daemon(tmp_path, web=OFF_LOOPBACK, state_dir=state, midi=False) as (daemon, _):
        assert daemon.web.token == new
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{daemon.web.port}/?token={old}", timeout=10)
        assert refused.value.code == 403
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.web.port}/?token={new}", timeout=10) as page:
            assert page.status == 200


def test_a_token_in_the_config_wins_and_without_a_state_folder_each_start_has_a_fresh_one(tmp_path):
    state = str(tmp_path / "state")
    kept_token(state)
    set_in_config = WebConfig(bind="0.0.0.0", port=0, allow=["127.0.0.0/8"], token="gallery-tablet-passphrase")
    with running_daemon(tmp_path, web=set_in_config, state_dir=state, midi=False) as (daemon, _):
        assert daemon.web.token == "gallery-tablet-passphrase"
    tokens = set()
    for _ in range(2):
        with running_daemon(tmp_path, web=OFF_LOOPBACK, midi=False) as (daemon, _):
            tokens.add(daemon.web.token)
    assert len(tokens) == 2


def test_web_token_reads_the_config_file(tmp_path):
    config = tmp_path / "mrtd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nweb: {{bind: 127.0.0.1, port: 7555}}\n")
    printed = _web_token("--config", str(config))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == f"http://127.0.0.1:7555/?token={read_token(tmp_path / 'state')}"
    assert _web_token().returncode == 2, "no state folder: nothing to keep the token in"


# -- the address in the URL ----------------------------------------------------------------------

MACHINE = ["127.0.0.1", "192.168.7.20", "10.8.0.3", "::1", "fe80::1", "fd00::2"]


@pytest.mark.parametrize("bind, allow, host, warned", [
    ("0.0.0.0", ["192.168.7.0/24"], "192.168.7.20", False),
    ("0.0.0.0", ["10.0.0.0/8"], "10.8.0.3", False),  # the admitted one, not the first
    ("0.0.0.0", ["192.168.1.0/24"], "192.168.7.20", True),  # the README's example on another network
    ("::", ["fd00::/64"], "fd00::2", False),
    ("192.168.7.20", ["192.168.1.0/24"], "192.168.7.20", True),
    ("127.0.0.1", [], None, False),
])
def test_the_url_names_an_address_the_allow_list_admits(bind, allow, host, warned):
    chosen, warning = url_host(bind, _nets(*allow), MACHINE)
    assert chosen == host
    assert bool(warning) == warned
    if warned:
        assert ",".join(allow) in warning and "192.168.7.20" in warning


def test_the_daemon_warns_at_start_when_no_address_of_this_machine_is_admitted(tmp_path, caplog, monkeypatch):
    import mrtd.app.web_surface as web_surface

    monkeypatch.setattr(web_surface, "machine_addresses", lambda: ["127.0.0.1", "192.168.7.20"])
    web = WebConfig(bind="0.0.0.0", port=0)
    with caplog.at_level(logging.INFO), running_daemon(tmp_path, web=web, osc=OscConfig(port=0, allow=["192.168.1.0/24"]),
                                                       midi=False) as (daemon, _):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.getMessage().startswith("web:")]
    assert warnings == ["web: no address of this machine (192.168.7.20) is in the allow-list 192.168.1.0/24, so the URL "
                        "below cannot work from a tablet: put this machine's network in web.allow (or --osc-allow)"]
    monkeypatch.setattr(web_surface, "machine_addresses", lambda: ["127.0.0.1", "192.168.1.40"])
    caplog.clear()
    with caplog.at_level(logging.INFO), running_daemon(tmp_path, web=web, osc=OscConfig(port=0, allow=["192.168.1.0/24"]),
                                                       midi=False) as (daemon, _):
        pass
    urls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("web: http://")]
    assert urls == [f"web: http://192.168.1.40:{daemon.web.port}/?token={daemon.web.token}"]
    assert not [r for r in caplog.records if r.levelno == logging.WARNING and "allow-list" in r.getMessage()]


def test_the_machines_addresses_are_read_from_its_interfaces():
    """Checked against iproute2's own listing of this machine: each interface's IPv4 address, every IPv6 one."""
    if shutil.which("ip") is None:
        pytest.fail("iproute2 is not installed (apt-get install iproute2)")
    listed = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout)
    ours = machine_addresses()
    for interface in listed:
        inet = [a["local"] for a in interface.get("addr_info", []) if a["family"] == "inet"]
        if inet:
            assert inet[0] in ours, interface["ifname"]
        for address in (a["local"] for a in interface.get("addr_info", []) if a["family"] == "inet6"):
            assert address in ours
    assert "127.0.0.1" in ours
