"""The type hints are a contract the checker holds: mypy over the whole package, with the
settings in pyproject.toml, finds nothing. (It found a real bug the first time: mDNS discovery
on every interface handed zeroconf `None`.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_mypy_finds_nothing_in_the_package(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success" in run.stdout
