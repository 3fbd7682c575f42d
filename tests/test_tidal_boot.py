"""clients/tidal/BootTidal.hs loads in GHCi the way Tidal users load a boot file, d1 included."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TIDAL = Path(__file__).parent.parent / "clients" / "tidal"


@pytest.mark.parametrize("how", ["MRTD_TIDAL", "from the clone"])
def test_boot_tidal_loads_with_script_and_keeps_d1(tmp_path, how):
    if shutil.which("ghci") is None:
        pytest.fail("ghci is not installed: apt-get install libghc-tidal-dev (see .ci/run)")
    env = dict(os.environ)
    if how == "MRTD_TIDAL":
        env["MRTD_TIDAL"], cwd = str(TIDAL), tmp_path  # started anywhere, found through the variable
    else:
        env.pop("MRTD_TIDAL", None)
        cwd = TIDAL.parent.parent
    script = f":script {TIDAL / 'BootTidal.hs'}\n:t d1\n:t m1\n:t mprompt\n:t mstatus\n:q\n"
    done = subprocess.run(["ghci"], input=script, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)
    out = done.stdout + done.stderr
    assert "error" not in out.lower(), out
    for binding in ("d1 :: Pattern ValueMap -> IO ()", "m1 :: ControlPattern -> IO ()", "mstatus :: IO ()", "mprompt ::"):
        assert binding in out, out


def test_boot_tidal_started_as_editors_do_from_any_folder_plays_mrtd(tmp_path):
    """`ghci -ghci-script /abs/BootTidal.hs` from the user's own folder, no MRTD_TIDAL: MRTD.hs is
    found beside the boot file, the boot's own m-bindings reach a daemon, and no SuperDirt line."""
    if shutil.which("ghci") is None:
        pytest.fail("ghci is not installed: apt-get install libghc-tidal-dev (see .ci/run)")
    from clients_rig import running_daemon

    env = {k: v for k, v in os.environ.items() if k != "MRTD_TIDAL"}
    with running_daemon(tmp_path / "daemon") as rig:
        env["MRTD_PORT"] = str(rig.port)
        # Tidal's control listener prints "Waiting for SuperDirt" after its 2 s receive timeout:
        # the session lives past it (3 s of GHCi's own time) so the line would be seen.
        script = ('mprompt "dark" "dark ambient drone"\nmonce $ temperature 1.7\nmstatus\n'
                  "Control.Concurrent.threadDelay 3000000\n:q\n")
        done = subprocess.run(["ghci", "-ghci-script", str(TIDAL / "BootTidal.hs")], input=script,
                              capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
        out = done.stdout + done.stderr
        assert "<interactive>" not in out and "not in scope" not in out, out  # no GHCi error (status has engine_error)
        assert f"m1..m4 play mrtd at 127.0.0.1:{rig.port}" in out, out
        assert "frames" in out, out  # mstatus printed the daemon's answer
        assert "Waiting for SuperDirt" not in out, out
        rig.wait_snapshot("/mrt/prompts", lambda v: "dark ambient drone" in v, "the prompt from mprompt")
        assert any(c.temperature == pytest.approx(1.7) for c in rig.engine.seen), "monce never reached the engine"


def test_boot_tidal_without_its_module_says_what_to_set(tmp_path):
    """A boot file copied away from MRTD.hs names MRTD_TIDAL first and last, not only GHCi's errors."""
    if shutil.which("ghci") is None:
        pytest.fail("ghci is not installed: apt-get install libghc-tidal-dev (see .ci/run)")
    alone = tmp_path / "BootTidal.hs"
    alone.write_text((TIDAL / "BootTidal.hs").read_text())
    env = {k: v for k, v in os.environ.items() if k != "MRTD_TIDAL"}
    done = subprocess.run(["ghci", "-ghci-script", str(alone)], input=":q\n", capture_output=True, text=True,
                          timeout=180, cwd=tmp_path, env=env)
    lines = [line for line in done.stderr.splitlines() if line.strip()]  # GHCi's errors and ours share stderr
    said = [i for i, line in enumerate(lines) if line.startswith("mrtd: MRTD.hs not found") and "MRTD_TIDAL" in line]
    errors = [i for i, line in enumerate(lines) if "error:" in line]
    assert errors and said == [0, max(said)] and max(said) > max(errors), "\n".join(lines)  # first and last word
