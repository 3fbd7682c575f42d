"""The README's service recipe, run as it is written: the lines are read from README.md, so the
recipe and this test cannot drift (issue 24: a technician followed it and the service died).

It makes the user `mrtd`, /etc/mrtd and /opt/mrtd, a venv from /usr/bin/python3 with
`pip install '.[cpu]'` from a copy of this checkout (PyPI or pip's cache: a minute or two), the
config and a scene; then, with no systemd as PID 1 here, it starts the unit's ExecStart as the
`mrtd` user with the unit's folders and environment (unit_rig.py) and sees it play the scene.
Where the kernel lets it (root with CAP_SYS_ADMIN), all of it happens in a private mount namespace
over a copy of /etc, so the machine keeps no user, no /etc/mrtd and no venv afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from unit_rig import ROOT, can_switch_users

pytestmark = pytest.mark.skipif(not can_switch_users(), reason="the recipe makes a system user: needs root (CI runs as root)")


START = "START_THE_SERVICE"  # where the recipe starts (or restarts) the service


def recipe_lines(readme: str) -> list[str]:
    """The commands of the "Running for weeks" recipe: its first two sh blocks. What needs systemd
    as PID 1 is left out, and where the recipe starts or restarts the service, START stands: the
    test then runs ExecStart itself (as a first start without a scene, then with the scene)."""
    section = readme.split("## Running for weeks", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[:2]
    lines = []
    for line in "\n".join(blocks).splitlines():
        kept = []
        for part in line.split(" && "):
            if re.search(r"systemctl (enable --now|restart) mrtd", part):
                kept.append(START)
            elif "systemctl" not in part and "journalctl" not in part:
                kept.append(part)
        if kept and line.strip():
            lines.append(" && ".join(kept))
    return lines


def test_the_recipe_lines_are_the_ones_a_technician_types():
    lines = recipe_lines((ROOT / "README.md").read_text())
    assert any("/usr/bin/python3 -m venv /opt/mrtd/.venv" in line for line in lines), lines
    assert any("pip install '.[cpu]'" in line for line in lines), lines
    assert any("/etc/mrtd/scenes/" in line and "scene:" in line for line in lines), "the recipe adds a scene"
    assert not any("systemctl" in line for line in lines)
    assert sum(line.count(START) for line in lines) == 2, "a first start, then a restart with the scene"



def _isolated() -> bool:
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def test_the_readme_recipe_installs_a_service_that_plays_the_scene():
    work = Path(tempfile.mkdtemp(prefix="mrtd-recipe-"))
    work.chmod(0o755)
    made_opt = not Path("/opt/mrtd").exists()
    try:
        clone = work / "clone"  # what the technician cloned: this checkout's files, not its build leftovers
        files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                               capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, clone / name)
        (work / "var").mkdir(mode=0o755)
        if _isolated():
            # A private /etc (the user, /etc/mrtd, the unit) and /opt/mrtd (the venv): gone afterwards.
            (work / "opt-mrtd").mkdir()
            Path("/opt/mrtd").mkdir(exist_ok=True)
            prelude = (f"cp -a /etc {work}/etc && mount --bind {work}/etc /etc && "
                       f"mount --bind {work}/opt-mrtd /opt/mrtd || exit 1")
            wrap = ["unshare", "--mount", "--propagation", "private"]
        else:
            taken = [p for p in ("/etc/mrtd", "/opt/mrtd") if os.path.exists(p)]
            if taken or subprocess.run(["id", "mrtd"], capture_output=True).returncode == 0:
                pytest.fail(f"no mount namespace here, and an installation is present ({taken or 'user mrtd'}): "
                            "this test will not overwrite it")
            prelude, wrap = "", []
        # Each line as typed, stopping at the first that fails (`S=$(command -v sudo)` is an assignment
        # that "fails" where there is no sudo, by design: a shell only carries on).
        start = f"{sys.executable} {ROOT / 'tests' / 'unit_rig.py'} {work / 'var'} {work}/result-$((++starts)).json"
        checked = [line if re.match(r"^\w+=\$\(", line) else f"{line} || {{ echo 'recipe line failed:' {shlex.quote(line)} >&2; exit 1; }}"
                   for line in recipe_lines((ROOT / "README.md").read_text())]
        script = "\n".join(["set -uo pipefail", "starts=0", prelude, f"cd {clone} || exit 1",
                             *(line.replace(START, start) for line in checked)])
        started = time.monotonic()
        run = subprocess.run([*wrap, "bash", "-c", script], capture_output=True, text=True, timeout=900,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "daemon"), str(ROOT / "tests")])})
        elapsed = time.monotonic() - started
        assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
        first, outcome = (json.loads((work / f"result-{n}.json").read_text()) for n in (1, 2))
    finally:
        if not _isolated():
            subprocess.run(["userdel", "mrtd"], capture_output=True)
            for path in ("/etc/mrtd", "/etc/systemd/system/mrtd.service"):
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else Path(path).unlink(missing_ok=True)
            shutil.rmtree("/opt/mrtd", ignore_errors=True)
        elif made_opt:
            shutil.rmtree("/opt/mrtd", ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"the recipe, end to end: {elapsed:.0f} s (the service ready {outcome['ready_s']:.1f} s after its start)")
    scene = yaml.safe_load((ROOT / "scenes" / "gallery-day-night.yaml").read_text())
    status, log = outcome["status"], outcome["log"]
    assert status["scene"] == scene["name"], log
    assert int(status["frames"]) > 25 and outcome["returncode"] == 0, log
    assert "web: http://127.0.0.1:" in log, "the recipe's install serves the page"
    assert outcome["interpreter"].startswith("/usr/bin/python3"), outcome["interpreter"]
    assert not outcome["home_exists"], f"{outcome['home']}: the unit's user has no home, as useradd --system makes it"
    assert all(outcome["documentation"].values()), outcome["documentation"]
    assert "journal.json" in outcome["state"]
    assert first["status"]["scene"] == "-" and int(first["status"]["frames"]) > 25, "the first start, before the scene"
