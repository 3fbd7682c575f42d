"""Ableton Link: two peers and the daemon's follower agree on tempo and phase.

Link discovers peers by multicast on every interface it finds. So that no
packet leaves this machine, the real test runs in a private network namespace
holding only a loopback interface (`unshare --net`, as root in CI or through a
user namespace elsewhere): the outer test starts pytest again in there, and
the inner test brings loopback up (with multicast) before Link starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


HERE = Path(__file__).resolve().parent


def test_link_peers_on_loopback_agree_with_the_daemon():
    try:
        import link  # noqa: F401
    except ImportError:
        pytest.fail("LinkPython-extern is not installed: pip install -e '.[test]' (or '.[link]')")
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to keep Link's multicast inside a private namespace")
    namespace = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    result = subprocess.run(
        [*namespace, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE / "link_in_namespace.py")],
        cwd=HERE.parent, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"inside the namespace:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert "1 passed" in result.stdout
