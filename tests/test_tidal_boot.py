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
