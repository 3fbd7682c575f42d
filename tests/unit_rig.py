"""Run mrtd the way a systemd unit file says, without systemd as PID 1.

`parse_unit` reads systemd/mrtd.service itself (so a test and the unit cannot drift), and
`ServiceRun` turns it into what systemd would exec: ExecStart's arguments, the unit's
Environment=, the folders StateDirectory=/CacheDirectory=/LogsDirectory= make (owned by
the service's user) and ConfigurationDirectory= names, with their *_DIRECTORY variables,
WorkingDirectory=, and the unit's User=/Group= through setpriv. Those folders can live under a
test's own root instead of /var and /etc: paths the unit names inside them are moved with them.
"""

from __future__ import annotations

import os
import pwd
import grp
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent.parent
UNIT = ROOT / "systemd" / "mrtd.service"

# systemd.exec(5): where a system unit's directories live, and the variable naming each
DIRECTORIES = {
    "StateDirectory": ("/var/lib", "STATE_DIRECTORY"),
    "CacheDirectory": ("/var/cache", "CACHE_DIRECTORY"),
    "LogsDirectory": ("/var/log", "LOGS_DIRECTORY"),
    "ConfigurationDirectory": ("/etc", "CONFIGURATION_DIRECTORY"),
}
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"  # what systemd gives a service


def parse_unit(path: Path = UNIT) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> every value the key was given (a key may repeat: Environment=)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@dataclass
class ServiceRun:
    """What systemd would run for the unit's [Service], as `user`, with its folders under `var_root`
    (State/Cache/Logs) and `etc_root` (Configuration; None: the real /etc)."""

    var_root: Path
    etc_root: Path | None
    user: str
    home: str  # what systemd sets HOME to (the user's home in passwd, which may not exist)
    program: list[str] | None = None  # stands in for ExecStart's program (None: the unit's own)
    unit: Path = UNIT
    moved: dict[str, Path] = field(default_factory=dict)  # a path the unit names -> where it is here
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        service = parse_unit(self.unit)["Service"]
        self.service = service
        account = pwd.getpwnam(self.user)
        self.group = service.get("Group", [grp.getgrgid(account.pw_gid).gr_name])[0]
        env = {"PATH": SYSTEMD_PATH, "HOME": self.home, "USER": self.user, "LOGNAME": self.user, "LANG": "C.UTF-8"}
        for kind, (base, variable) in DIRECTORIES.items():
            names = " ".join(service.get(kind, [])).split()
            if not names:
                continue
            places = []
            for name in names:
                unit_path = f"{base}/{name}"
                root = self.etc_root if kind == "ConfigurationDirectory" else self.var_root
                here = Path(unit_path) if root is None else root / name
                here.mkdir(parents=True, exist_ok=True)
                if kind != "ConfigurationDirectory":  # systemd chowns these to User=; the config stays root's
                    shutil.chown(here, self.user, self.group)
                    here.chmod(0o755)
                self.moved[unit_path] = here
                places.append(str(here))
            env[variable] = ":".join(places)
        for assignment in service.get("Environment", []):
            for word in shlex.split(assignment):
                key, _, value = word.partition("=")
                env[key] = self.place(value)
        self.env = env

    def place(self, path: str) -> str:
        """Where a path the unit names is in this run (moved with its folder, or as it is)."""
        for unit_path, here in self.moved.items():
            if path == unit_path or path.startswith(unit_path + "/"):
                return str(here) + path[len(unit_path):]
        return path

    @property
    def working_directory(self) -> str:
        return self.place(self.service["WorkingDirectory"][0])

    def argv(self, *extra: str) -> list[str]:
        """ExecStart, as the unit's user and group (setpriv, as systemd's User=/Group= do)."""
        words = shlex.split(self.service["ExecStart"][0])
        program = self.program if self.program is not None else [words[0]]
        args = [self.place(word) for word in words[1:]]
        return ["setpriv", "--reuid", self.user, "--regid", self.group, "--clear-groups", *program, *args, *extra]

    def as_user(self, *command: str) -> list[str]:
        """Another command as the unit's user (e.g. `mrtd check --config`)."""
        return ["setpriv", "--reuid", self.user, "--regid", self.group, "--clear-groups", *command]

    def run(self, *extra: str, log: Path, **kwargs) -> subprocess.Popen:
        with open(log, "w") as stderr:
            return subprocess.Popen(self.argv(*extra), env=self.env, cwd=self.working_directory,
                                    stdout=subprocess.DEVNULL, stderr=stderr, **kwargs)


def _dependencies() -> list:
    """The installed distributions a plain `pip install .` of this checkout brings (its base
    dependencies from pyproject.toml, and theirs), as importlib.metadata has them here."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    wanted = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    found: dict[str, metadata.Distribution] = {}
    while wanted:
        req = wanted.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        dist = metadata.distribution(req.name)
        key = dist.metadata["Name"].lower()
        if key not in found:
            found[key] = dist
            wanted += [Requirement(r) for r in dist.requires or []]
    return list(found.values())


def python_for(user: str, folder: Path) -> Path:
    """A Python the `user` can run, with this checkout's mrtd and what it depends on.

    The test's own venv may be one nobody else can run: one made from a pyenv under /root has its
    interpreter behind /root's 0700 (exit 203 under systemd, the issue's very failure), and a
    checkout under /root is unreadable too. So this is a venv of Debian's /usr/bin/python3 with a
    copy of this checkout's package and of the installed distributions it needs (the same minor
    version, so the compiled ones fit), all readable by everyone."""
    debian = "/usr/bin/python3"
    version = subprocess.run([debian, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    if version.stdout.split() != [str(v) for v in sys.version_info[:2]]:
        raise AssertionError(f"{debian} is {version.stdout.strip()}, this venv {sys.version_info[:2]}: the test needs the same minor version")
    venv = folder / "venv"
    subprocess.run([debian, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    shutil.copytree(ROOT / "daemon" / "mrtd", site / "mrtd", ignore=shutil.ignore_patterns("__pycache__"))
    for dist in _dependencies():
        for name in dist.files or []:
            if name.parts[0] == ".." or "__pycache__" in name.parts:
                continue  # console scripts beside the interpreter; byte code is made again
            source = Path(str(dist.locate_file(name)))
            if source.is_file():
                (site / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, site / name)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    python = venv / "bin" / "python"
    probe = subprocess.run(["setpriv", "--reuid", user, "--regid", "nogroup", "--clear-groups", str(python), "-c",
                            "import numpy, aiohttp, mrtd.app.cli"], capture_output=True, text=True, cwd="/", env={"PATH": SYSTEMD_PATH})
    assert probe.returncode == 0, f"user {user} cannot run the copied mrtd: {probe.stderr[-800:]}"
    return python


def can_switch_users() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def osc_port(log: Path) -> int:
    """The OSC port a daemon started with port 0 says it took (other tests on this machine take ports too)."""
    import re

    found = re.search(r"OSC: udp\+tcp [\d.]+:(\d+)", log.read_text())
    assert found, log.read_text()
    return int(found.group(1))


def frames_flow(client, more: int, timeout: float = 30) -> dict:
    """The status once the daemon has made `more` frames since the first ask (its audio clock),
    asked five times a second: a status reply is 1-2 kB, and faster asking runs a UDP client over
    the daemon's reply budget for its address."""
    import time

    first = int(client.status()["frames"])
    deadline = time.monotonic() + timeout
    while True:
        status = client.status()
        if int(status["frames"]) > first + more:
            return status
        assert time.monotonic() < deadline, f"frames stopped at {status['frames']} (from {first})"
        time.sleep(0.2)


def play(service: ServiceRun, log: Path, frames: int = 25, timeout: float = 120) -> dict:
    """Start the unit's ExecStart (OSC and the page on free ports), wait until `frames`
    more frames have played with a scene, stop it with SIGTERM as systemctl stop does; what it showed."""
    import signal
    import time

    from conftest import wait_for
    from mrtd.client import Client

    started = time.monotonic()
    process = service.run("--osc-port", "0", "--web-port", "0", log=log)
    try:
        wait_for(lambda: "mrtd: ready" in log.read_text() or process.poll() is not None, timeout, "the service to start")
        assert process.poll() is None, log.read_text()
        ready_s = time.monotonic() - started
        with Client("127.0.0.1", osc_port(log), timeout=5) as client:
            client.hello()  # a proven address: the full reply budget for the status polls
            status = frames_flow(client, frames)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return {"status": status, "ready_s": ready_s, "returncode": process.returncode, "log": log.read_text()}


if __name__ == "__main__":
    # `python unit_rig.py VAR_ROOT RESULT`: the unit as installed (its own ExecStart, User=,
    # /etc/mrtd), its State/Cache folders under VAR_ROOT; tests/test_recipe.py runs this after the recipe.
    import json

    var_root, result = Path(sys.argv[1]), Path(sys.argv[2])
    service = ServiceRun(var_root=var_root, etc_root=None, user="mrtd", home=pwd.getpwnam("mrtd").pw_dir)
    outcome = play(service, var_root / f"{result.stem}.log")
    program = shlex.split(service.service["ExecStart"][0])[0]
    outcome["interpreter"] = os.path.realpath(Path(program).with_name("python"))
    outcome["home"] = service.env["HOME"]
    outcome["home_exists"] = os.path.exists(service.env["HOME"])
    outcome["documentation"] = {doc: Path(doc.removeprefix("file://")).is_file()
                                for doc in parse_unit(service.unit)["Unit"].get("Documentation", [])}
    outcome["state"] = sorted(p.name for p in Path(service.env["STATE_DIRECTORY"]).iterdir())
    result.write_text(json.dumps(outcome))
