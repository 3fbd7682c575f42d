"""clients/pd: the [mrtd] abstraction driven by real Pd (no GUI, no audio) against a running daemon."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from clients_rig import CLIENTS, REPO, running_daemon
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET
from mrtd.inputs.osc.table import TABLE

SESSION = REPO / "tests" / "clients" / "pd_session.pd"


def pd(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    if shutil.which("pd") is None:
        pytest.fail("pd is not installed: apt-get install puredata-core (see .ci/run)")
    # Realtime scheduling without audio: netsend/netreceive need real time to pass (-batch does not wait for replies).
    return subprocess.run(
        ["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-path", str(CLIENTS / "pd"), *args],
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Run the Pd session once for the module: (rig, the replies Pd printed)."""
    with running_daemon(tmp_path_factory.mktemp("pd")) as rig:
        result = pd("-send", f"mrtd-test {rig.port}", "-open", str(SESSION))
        assert result.returncode == 0, result.stderr
        replies = [l.removeprefix("MRTD-TEST: ") for l in result.stderr.splitlines() if l.startswith("MRTD-TEST: ")]
        yield rig, replies, result.stderr


def test_the_patches_load_cleanly(session):
    *_, log = session
    pd_said = [l for l in log.splitlines() if not l.startswith("MRTD-TEST: ")]
    assert not pd_said, pd_said  # no "error: ...", no "... couldn't create"
    panel = pd("-open", str(CLIENTS / "pd" / "mrtd-panel.pd"), "-send", "pd quit")
    assert panel.returncode == 0 and "error" not in panel.stderr and "couldn't create" not in panel.stderr, panel.stderr


def test_commands_reach_the_engine(session):
    rig, *_ = session
    rig.wait_engine(
        lambda c: np.allclose((c.temperature, c.top_k, c.cfg_notes, c.cfg_drums, c.drums), (2.6, 17, 3.5, 4.5, 1))
        and c.notes[62] in (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL),
        "temperature, topk, cfg, an event and a note from Pd",
    )
    rig.wait_snapshot("/mrt/mix", lambda m: m == ["bright", 0.75, "dark", 0.25], "the mix from Pd")
    snapshot = rig.daemon.snapshot
    assert snapshot["/mrt/volume"] == [-3.0] and snapshot["/mrt/tempo"] == [99.0]
    # Escaped spaces in a Pd message box arrive as one OSC string.
    assert snapshot["/mrt/prompts"] == ["bright", "bright fast techno", "dark", "dark ambient drone"]


def test_pd_proves_its_address_by_itself(session):
    """[hello( is all a patch sends: the abstraction echoes the daemon's cookie (a 32-bit float in
    Pd, which the 24-bit cookie survives) and the address is proven."""
    rig, replies, _ = session
    shown = next(r for r in replies if r.startswith("hello ") and r != "hello ok").split()[1]
    assert float(shown) == pytest.approx(rig.daemon.osc.guard.cookie("127.0.0.1"), rel=1e-5)  # Pd prints 6 digits
    assert "hello ok" in replies, "the cookie went back exactly"
    assert rig.daemon.osc.guard.counters.proofs == 1


def test_pd_received_the_replies(session):
    _, replies, _ = session
    replies = [r for r in replies if not r.startswith("hello ")]
    assert replies[0] == "pong 7 x"
    status = re.split(r"(?<!\\) ", replies[1])  # Pd prints a space inside one atom as "\ "
    assert status[0] == "status"
    fields = dict(zip(status[1::2], status[2::2]))
    assert status[1:3] == ["engine", "tone"] and "frames" in fields
    assert replies[2].startswith("error /mrt/topk top_k")


def test_the_panel_covers_every_address():
    panel = (CLIENTS / "pd" / "mrtd-panel.pd").read_text()
    boxes = [line.split(None, 4)[4] for line in panel.splitlines() if line.startswith("#X msg ") and "appear" not in line]
    sent = {"/mrt/" + text.split()[0].rstrip(";") for text in boxes}
    routed = {row.path for row in TABLE if row.path.startswith("/mrt/")}
    assert sent <= routed, sent - routed
    assert routed <= sent, f"addresses without a message box: {routed - sent}"
