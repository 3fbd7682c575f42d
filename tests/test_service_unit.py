"""The service as installed: the daemon run as systemd/mrtd.service says, as an unprivileged user
whose HOME does not exist, in the folders systemd makes for it (issue 24, "the service works
as installed"). The unit file is parsed here (unit_rig.py), so the test follows it."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import wait_for
from mrtd.app.config import ConfigError, load_settings, settings_for_start
from mrtd.client import Client
from mrtd.style.cache import EmbeddingCache
from unit_rig import ROOT, ServiceRun, can_switch_users, frames_flow, osc_port, parse_unit, python_for

USER = "nobody"  # an unprivileged user every Debian has; its passwd home, /nonexistent, does not exist
SCENE = "therapy-two-buttons.yaml"

needs_root = pytest.mark.skipif(not can_switch_users(), reason="runs the daemon as another user: needs root and setpriv (CI runs as root)")


@pytest.fixture(scope="module")
def open_folder():
    """A folder the service's user can reach (pytest's tmp_path sits under a 0700 folder of root's)."""
    folder = Path(tempfile.mkdtemp(prefix="mrtd-unit-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def python(open_folder):
    return python_for(USER, open_folder / "python")



def _example_config(scene: str, **keys: str) -> str:
    """systemd/mrtd.yaml as shipped, but silent (null output, no MIDI), OSC on any free port, no web page."""
    text = (ROOT / "systemd" / "mrtd.yaml").read_text()
    replaced = {"output: default": 'output: "null"', "midi: true": "midi: false", "scene: null": f"scene: {scene}",
                "  port: 7400": "  port: 0"}
    for old, new in replaced.items():
        assert old in text, f"the example config no longer says {old!r}"
        text = text.replace(old, new, 1)
    return text + "web: null\n" + "".join(f"{key}: {value}\n" for key, value in keys.items())


def _service(root: Path, python: Path, **keys: str) -> ServiceRun:
    """The unit's run with its folders under `root`; the example config and a scene in its config folder."""
    service = ServiceRun(var_root=root / "var", etc_root=root / "etc", user=USER, home="/nonexistent",
                         program=[str(python), "-m", "mrtd"])
    config_dir = Path(service.place("/etc/mrtd"))
    (config_dir / "scenes").mkdir()
    shutil.copy(ROOT / "scenes" / SCENE, config_dir / "scenes" / SCENE)
    config = service.place(config_path(service))
    Path(config).write_text(_example_config(str(config_dir / "scenes" / SCENE), **keys))
    for path in [root, root / "var", root / "etc", *(root / "etc").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return service


def config_path(service: ServiceRun) -> str:
    """The config file ExecStart names (after --config)."""
    words = service.service["ExecStart"][0].split()
    return words[words.index("--config") + 1]


@needs_root
def test_the_daemon_plays_a_scene_as_the_unit_runs_it(open_folder, python):
    """As the unit's ExecStart, Environment=, WorkingDirectory= and folders say, as an unprivileged
    user with no HOME, the example config plus a scene in the config folder: it plays the scene.
    On main it died at the scene: `[Errno 13] Permission denied: '/home/mrtd'` (the cache under ~)."""
    root = open_folder / "plays"
    root.mkdir(mode=0o755)
    service = _service(root, python)
    log = root / "mrtd.log"
    process = service.run(log=log)
    try:
        wait_for(lambda: "mrtd: ready" in log.read_text() or process.poll() is not None, 60, "the service to start")
        assert process.poll() is None, log.read_text()
        with Client("127.0.0.1", osc_port(log), timeout=5) as client:
            client.hello()  # a proven address: the full reply budget for the status polls
            status = frames_flow(client, 25)  # a second of music
        # The scene plays its opening mix (its cues wait for the tablet's buttons).
        assert status["scene"] == "two big buttons" and status["mix"] == "calm:1 bright:0 rest:0", status
        assert status["scene_dir"] == service.place("/etc/mrtd/scenes")
        assert status["record_dir"] == service.place("/var/lib/mrtd/recordings")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    text = log.read_text()
    assert process.returncode == 0, text
    assert "Permission denied" not in text and "cannot write" not in text, text
    # What the unit's folders hold: the journal in STATE_DIRECTORY, the embeddings in CACHE_DIRECTORY.
    assert (Path(service.env["STATE_DIRECTORY"]) / "journal.json").is_file()
    assert list((Path(service.env["CACHE_DIRECTORY"]) / "embeddings").glob("*.npy"))


@needs_root
def test_with_no_home_and_no_systemd_folders_a_scene_still_plays(open_folder, python):
    """The issue's repro, outside systemd: `mrtd run --scene` as a user whose HOME does not exist.
    The cache cannot be made under ~: one log line, and the embeddings stay in memory."""
    work = open_folder / "nohome"
    work.mkdir(mode=0o755)
    log = work / "mrtd.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    command = ["setpriv", "--reuid", USER, "--regid", "nogroup", "--clear-groups", str(python), "-m", "mrtd", "run",
               "--scene", str(ROOT / "scenes" / SCENE), "--engine", "synth", "--output", "null", "--no-midi", "--no-web",
               "--osc-port", "0"]
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, env=env, cwd=work, stderr=stderr)
    try:
        wait_for(lambda: "mrtd: ready" in log.read_text() or process.poll() is not None, 60, "mrtd to start")
        assert process.poll() is None, log.read_text()
        with Client("127.0.0.1", osc_port(log), timeout=5) as client:
            client.hello()  # a proven address: the full reply budget for the status polls
            status = client.status()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert status["scene"] == "two big buttons", log.read_text()
    lines = [line for line in log.read_text().splitlines() if "embedding cache" in line]
    assert len(lines) == 1 and "/nonexistent/.cache/mrtd/embeddings" in lines[0] and "in memory" in lines[0], lines


@needs_root
def test_check_config_refuses_as_the_user_what_the_start_refuses(open_folder, python):
    """`mrtd check --config` said ok where `mrtd run` then failed. A state folder the user cannot write:
    both say so in the same line, check exits 1 and the start 2; nothing starts."""
    root = open_folder / "check"
    root.mkdir(mode=0o755)
    locked = root / "locked"
    locked.mkdir(mode=0o700)  # root's: the service's user cannot write the journal here
    service = _service(root, python, state_dir=str(locked))
    config = service.place(config_path(service))
    check = subprocess.run(service.as_user(str(python), "-m", "mrtd", "check", "--config", config), env=service.env,
                           cwd=service.working_directory, capture_output=True, text=True, timeout=60)
    line = f"{config}: state_dir: user {USER} cannot write {locked} (the state journal lives there)"
    assert check.returncode == 1 and line in check.stderr and "ok" not in check.stdout, check.stdout + check.stderr
    start = subprocess.run(service.argv("--seconds", "5"), env=service.env, cwd=service.working_directory,
                           capture_output=True, text=True, timeout=60)
    assert start.returncode == 2 and line in start.stderr, start.stderr
    assert "ready" not in start.stderr

    # And with the folders the unit makes, the check says ok, having read the scene too.
    (root / "fine").mkdir(mode=0o755)
    fine = _service(root / "fine", python)
    ok = subprocess.run(fine.as_user(str(python), "-m", "mrtd", "check", "--config", fine.place(config_path(fine))),
                        env=fine.env, cwd=fine.working_directory, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "cannot" not in ok.stderr, ok.stderr
    assert f"{SCENE}: ok (3 prompts" in ok.stdout and ok.stdout.rstrip().endswith(": ok"), ok.stdout


def test_systemd_folders_are_the_defaults_and_the_config_wins(tmp_path):
    environ = {"STATE_DIRECTORY": "/var/lib/mrtd:/var/lib/mrtd-extra", "CACHE_DIRECTORY": "/var/cache/mrtd",
               "CONFIGURATION_DIRECTORY": "/etc/mrtd", "LOGS_DIRECTORY": "/var/log/mrtd"}
    settings = load_settings(ROOT / "systemd" / "mrtd.yaml", {}, environ=environ)
    assert (settings.state_dir, settings.record_dir, settings.audio_dir, settings.cache_dir, settings.scene_dir) == (
        "/var/lib/mrtd", "/var/lib/mrtd/recordings", "/var/lib/mrtd/audio", "/var/cache/mrtd/embeddings", "/etc/mrtd/scenes")
    config = tmp_path / "mrtd.yaml"
    config.write_text(f"state_dir: null\nrecord_dir: {tmp_path}\n")
    settings = load_settings(config, {"cache_dir": str(tmp_path / "c")}, environ=environ)
    assert settings.state_dir is None, "state_dir: null in the file means no journal, even under systemd"
    assert settings.record_dir == str(tmp_path) and settings.cache_dir == str(tmp_path / "c")
    assert settings.scene_dir == "/etc/mrtd/scenes"
    outside = load_settings(ROOT / "systemd" / "mrtd.yaml", {}, environ={})
    assert (outside.state_dir, outside.scene_dir, outside.cache_dir) == (None, "scenes", None)


def test_the_unit_and_the_example_config_put_the_folders_where_the_unit_makes_them():
    """StateDirectory=/CacheDirectory=/ConfigurationDirectory= are what the daemon uses, WorkingDirectory=
    is the state folder, and the config ExecStart names is in the configuration folder."""
    service = parse_unit()["Service"]
    environ = {"STATE_DIRECTORY": f"/var/lib/{service['StateDirectory'][0]}",
               "CACHE_DIRECTORY": f"/var/cache/{service['CacheDirectory'][0]}",
               "CONFIGURATION_DIRECTORY": f"/etc/{service['ConfigurationDirectory'][0]}"}
    settings = load_settings(ROOT / "systemd" / "mrtd.yaml", {}, environ=environ)
    assert settings.state_dir == environ["STATE_DIRECTORY"] == service["WorkingDirectory"][0]
    assert Path(settings.cache_dir).parent == Path(environ["CACHE_DIRECTORY"])
    assert Path(settings.scene_dir).parent == Path(environ["CONFIGURATION_DIRECTORY"])
    config = service["ExecStart"][0].split("--config ")[1].split()[0]
    assert Path(config).parent == Path(environ["CONFIGURATION_DIRECTORY"])
    user = parse_unit(ROOT / "systemd" / "mrtd-user.service")["Service"]
    for kind in ("StateDirectory", "CacheDirectory", "ConfigurationDirectory"):
        assert user[kind] == service[kind], f"the user unit's {kind}= differs"


@pytest.mark.parametrize("unit", ["mrtd.service", "mrtd-user.service"])
def test_no_key_is_given_twice(unit):
    """`Nice=-10` stood twice in [Service]; systemd takes the last silently, so an edit to the first
    would do nothing. Only keys that add up (Environment=) may repeat."""
    for section, keys in parse_unit(ROOT / "systemd" / unit).items():
        repeated = [key for key, values in keys.items() if len(values) > 1 and key not in ("Environment",)]
        assert repeated == [], f"{unit} [{section}] names {repeated} more than once"


def test_the_documentation_the_unit_names_is_what_the_recipe_installs():
    documentation = parse_unit()["Unit"]["Documentation"][0]
    assert documentation.startswith("file://")
    path = documentation[len("file://"):]
    readme = (ROOT / "README.md").read_text()
    assert f"install -m644 README.md {Path(path).parent}" in readme or f"README.md {Path(path).parent}/" in readme, \
        f"the recipe never installs {path}"


def test_an_unwritable_cache_keeps_embeddings_in_memory(tmp_path, caplog):
    import numpy as np

    blocker = tmp_path / "file"
    blocker.write_text("")  # a folder under a file cannot be made, whoever asks (root too)
    cache = EmbeddingCache(blocker / "embeddings")
    embedding = np.linspace(-1, 1, 768, dtype=np.float32)
    cache.put("a", embedding)
    cache.put("b", embedding * 2)
    assert np.array_equal(cache.get("a"), embedding) and np.array_equal(cache.get("b"), embedding * 2)
    assert [r.getMessage() for r in caplog.records if "embedding cache" in r.getMessage()] == [
        f"embedding cache: cannot write {blocker / 'embeddings'} (Not a directory): keeping embeddings in memory for this run"]


def test_a_state_folder_under_a_file_stops_the_check_and_the_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "mrtd.yaml"
    config.write_text(f"state_dir: {blocker / 'state'}\n")
    with pytest.raises(ConfigError) as refused:
        settings_for_start(config, {}, environ={})
    user = pwd.getpwuid(os.getuid()).pw_name
    assert refused.value.errors == [f"{config}: state_dir: user {user} cannot write {blocker / 'state'} (the state journal lives there)"]
