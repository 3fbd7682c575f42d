"""clients/supercollider/MRTD.sc driven by real sclang (headless, no audio server) against a running daemon."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

from clients_rig import CLIENTS, running_daemon
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET

SESSION = os.path.join(os.path.dirname(__file__), "clients", "sc_session.scd")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Run sclang once for the module: (rig, the MRTD-TEST lines it printed)."""
    if shutil.which("sclang") is None:
        pytest.fail("sclang is not installed: apt-get install supercollider-language (see .ci/run)")
    folder = tmp_path_factory.mktemp("sclang")
    # A class library that includes clients/supercollider, so MRTD.sc compiles at startup.
    config = folder / "sclang_conf.yaml"
    config.write_text(f"includePaths:\n  - {CLIENTS / 'supercollider'}\nexcludePaths: []\npostInlineWarnings: false\n")
    with running_daemon(folder) as rig:
        env = {**os.environ, "MRTD_PORT": str(rig.port), "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1"}
        output = run_sclang(["sclang", "-l", str(config), "-D", SESSION], env, folder, timeout=60)
        lines = [line.removeprefix("MRTD-TEST ") for line in output.splitlines() if line.startswith("MRTD-TEST ")]
        assert "DONE" in lines, f"the sclang session did not finish:\n{output[-4000:]}"
        yield rig, lines


def run_sclang(command: list[str], env: dict, cwd, timeout: float) -> str:
    """Run sclang until the session is done; return what it printed.

    A class library that fails to compile leaves sclang waiting at its prompt
    instead of exiting, so stop it as soon as it says so (and at `timeout` in any case).
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    deadline = threading.Timer(timeout, process.kill)
    deadline.start()
    output = []
    try:
        for text in process.stdout:
            output.append(text)
            if "Library has not been compiled successfully" in text:
                process.kill()
        process.wait()
    finally:
        deadline.cancel()
        process.kill()
        process.stdout.close()
    return "".join(output)


def line(lines: list[str], head: str) -> str:
    return next(l for l in lines if l.startswith(head + " "))


def test_the_class_compiles_and_the_session_completes(session):
    _, lines = session
    assert not any(l.startswith("TIMEOUT") for l in lines)


def test_commands_reach_the_engine(session):
    rig, _ = session
    rig.wait_engine(
        lambda c: np.allclose((c.temperature, c.top_k, c.cfg_notes, c.cfg_drums, c.drums), (2.6, 17, 3.5, 4.5, 1))
        and c.notes[62] in (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL),
        "temperature, topk, cfg, an event and a note from sclang",
    )
    snapshot = rig.daemon.snapshot
    assert snapshot["/mrt/volume"] == [-3.0] and snapshot["/mrt/tempo"] == [99.0]
    assert snapshot["/mrt/mix"] == ["bright", 0.75, "dark", 0.25]


def test_sclang_received_the_replies(session):
    _, lines = session
    assert line(lines, "PONG") == "PONG 7 x"
    status = line(lines, "STATUS").split()
    assert status[1] == "Event" and status[3] == "tone" and int(status[5]) > 0
    assert line(lines, "PUSHED") == "PUSHED tempo 99.0"
    assert line(lines, "STATE").split()[2:] == ["bright", "0.75", "dark", "0.25"]
    assert line(lines, "ERROR").startswith("ERROR /mrt/topk ")
    assert line(lines, "PROVEN") == "PROVEN true", "the class answered the daemon's cookie"


def test_the_readme_quick_start_works_as_written_from_a_fresh_home(tmp_path):
    """The quick start's shell lines, then sclang started as a user would (as root here, where
    sclang aborts at start without the README's QTWEBENGINE_DISABLE_SANDBOX line), runs the
    quick start's SuperCollider lines against a daemon."""
    if shutil.which("sclang") is None:
        pytest.fail("sclang is not installed: apt-get install supercollider-language (see .ci/run)")
    readme = (CLIENTS / "supercollider" / "README.md").read_text()
    shell = re.findall(r"```sh\n(.*?)```", readme, re.S)[0]
    code = re.findall(r"```supercollider\n(.*?)```", readme, re.S)[0]
    home = tmp_path / "home"
    home.mkdir()
    with running_daemon(tmp_path) as rig:
        assert "7400" in code
        session = tmp_path / "quick.scd"
        session.write_text(code.replace("7400", str(rig.port))
                           + '\nm.status { |ev| ("MRTD-TEST FRAMES " ++ ev.frames).postln; 0.exit };\n')
        # no display here: offscreen is the machine's setting, not the README's
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QTWEBENGINE", "XDG_"))}
        env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen")
        output = run_sclang(["bash", "-ec", f"{shell}\nexec sclang -D {session}"], env, CLIENTS.parent, timeout=90)
        assert "MRTD-TEST FRAMES" in output, output[-3000:]
        rig.wait_engine(lambda c: c.notes[60] in (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL), "the quick start's noteOn(60)")
