"""`mrtd models`: list, and install from the hub (a loopback server speaking its protocol), from a
folder, and with random weights from the official exporter; what `engine: auto` then picks is asked
of the real engine choice (`mrtd.engines.create_engine`), never a copy of its check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

import musiccoca_standin
from hub_server import COMMIT, HubState, LoopbackHub, files_from
from mrt2_tiny import export_tiny_encoder, export_tiny_model
from mrtd.app.models import MARKER_FILE
from mrtd.engines import create_engine
from test_mrt2_jax import jax_home  # noqa: F401  (the fixture: a random-weights JAX checkpoint, cached)

MRTD = [sys.executable, "-m", "mrtd"]
REPO = "google/magenta-realtime-2"
NAME = "mrt2_small"
MLXFN = f"models/{NAME}/{NAME}.mlxfn"
STATE = f"models/{NAME}/{NAME}_state.safetensors"
SECRET = b"my venue's wifi password is hunter2\n"


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """A small real asset tree: a tiny MRT2-signature export, MusicCoCa stand-ins, a stand-in encoder."""
    root = tmp_path_factory.mktemp("assets")
    export_tiny_model(root, NAME)
    export_tiny_encoder(root)
    musiccoca_standin.build_musiccoca(root / "magenta-rt-v2" / "resources" / "musiccoca")
    return root


def hub_files(assets: Path) -> dict[str, bytes]:
    tree = assets / "magenta-rt-v2"
    return {**files_from(tree / "models" / NAME, f"models/{NAME}"),
            **files_from(tree / "resources" / "musiccoca", "resources/musiccoca"),
            **files_from(tree / "resources" / "spectrostream", "resources/spectrostream")}


def mrtd(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*MRTD, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def auto_picks(home: Path) -> str:
    """The engine `engine: auto` builds for this MAGENTA_HOME (the daemon's own choice)."""
    engine = create_engine("auto", magenta_home=str(home), model=NAME)
    try:
        return engine.name
    finally:
        engine.close()


def leftovers(home: Path) -> list[str]:
    """Everything in the models folder: after a failed install, nothing (no staging folder either)."""
    folder = home / "magenta-rt-v2" / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def hub_env(hub: LoopbackHub, tmp_path: Path) -> dict[str, str]:
    # The hub's cache in the test's folder: HF_HOME is honoured, and no test shares another's downloads.
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def test_install_from_the_hub_checks_and_places_a_model_and_the_resources(assets, tmp_path):
    home = tmp_path / "home"
    with LoopbackHub(HubState(REPO, hub_files(assets))) as hub:
        env = hub_env(hub, tmp_path)
        model = mrtd("models", "install", NAME, "--magenta-home", str(home), env=env)
        resources = mrtd("models", "install", "resources", "--magenta-home", str(home), env=env)
    assert model.returncode == 0, model.stderr
    assert "sizes and hashes match the hub's" in model.stdout and "imports and steps on MLX" in model.stdout
    assert resources.returncode == 0, resources.stderr
    assert "MusicCoCa" not in resources.stderr and "embeds a text (768-d" in resources.stdout
    folder = home / "magenta-rt-v2" / "models" / NAME
    assert (folder / f"{NAME}.mlxfn").read_bytes() == (assets / "magenta-rt-v2" / "models" / NAME / f"{NAME}.mlxfn").read_bytes()
    marker = json.loads((folder / MARKER_FILE).read_text())
    assert (marker["source"], marker["repo"], marker["revision"]) == ("hub", REPO, COMMIT)
    assert (home / "magenta-rt-v2" / "resources" / "musiccoca" / "spm.model").is_file()
    assert (home / "magenta-rt-v2" / "resources" / "spectrostream" / "spectrostream_encoder.mlxfn").is_file()
    assert auto_picks(home) == "mrt2"
    listed = mrtd("models", "list", "--magenta-home", str(home))
    assert listed.returncode == 0
    row = listed.stdout.split(f"{NAME} ")[1].splitlines()
    assert "installed" in row[0] and "downloaded" in row[0]
    assert "imports on MLX" in listed.stdout
    assert listed.stdout.count("not installed") == 1  # mrt2_base only: both resource sets are in


@pytest.fixture(scope="module")
def big_model(tmp_path_factory) -> dict[str, bytes]:
    """A tiny-signature model whose function is over 10 MiB (a 2400x2400 weight): huggingface_hub writes
    10 MiB chunks, so a break past the first chunk leaves bytes to resume from."""
    root = tmp_path_factory.mktemp("big")
    export_tiny_model(root, NAME, heavy_matmuls=1, heavy_size=2400)
    return files_from(root / "magenta-rt-v2" / "models" / NAME, f"models/{NAME}")


def test_a_transfer_that_breaks_mid_file_resumes_where_it_stopped(big_model, tmp_path):
    home = tmp_path / "home"
    size = len(big_model[MLXFN])
    with LoopbackHub(HubState(REPO, big_model, break_once={MLXFN})) as hub:
        result = mrtd("models", "install", NAME, "--magenta-home", str(home), env=hub_env(hub, tmp_path))
        ranges = hub.gets(f"{NAME}.mlxfn")
    assert result.returncode == 0, result.stderr
    assert ranges[0] == "" and len(ranges) == 2
    offset = int(ranges[1].removeprefix("bytes=").removesuffix("-"))
    assert 0 < offset < size, f"resumed from byte {offset} of {size}"
    installed = home / "magenta-rt-v2" / "models" / NAME / f"{NAME}.mlxfn"
    assert installed.read_bytes() == big_model[MLXFN]
    assert auto_picks(home) == "mrt2"


def test_a_failed_download_leaves_nothing_auto_picks_and_the_next_install_completes(assets, tmp_path):
    home = tmp_path / "home"
    state = HubState(REPO, hub_files(assets), break_once={STATE}, down_after_break=True)
    with LoopbackHub(state) as hub:
        env = hub_env(hub, tmp_path)
        broken = mrtd("models", "install", NAME, "--magenta-home", str(home), env=env)
        assert broken.returncode != 0
        assert broken.stderr.strip().splitlines()[-1].startswith("mrtd: downloading " + STATE)
        assert "Traceback" not in broken.stderr
        assert leftovers(home) == [] and auto_picks(home) == "synth"

        state.unavailable.clear()  # the link is back
        again = mrtd("models", "install", NAME, "--magenta-home", str(home), env=env)
        assert again.returncode == 0, again.stderr
    assert len(hub.gets(f"{NAME}.mlxfn")) == 1, "the file that arrived whole came from the hub's cache"
    assert auto_picks(home) == "mrt2"


def test_a_file_whose_hash_is_wrong_is_refused_and_nothing_is_installed(assets, tmp_path):
    home = tmp_path / "home"
    with LoopbackHub(HubState(REPO, hub_files(assets), lie_sha256={STATE})) as hub:
        refused = mrtd("models", "install", NAME, "--magenta-home", str(home), env=hub_env(hub, tmp_path))
    assert refused.returncode != 0
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"mrtd: {STATE}: its sha256 is not the one the hub lists")
    assert leftovers(home) == [] and auto_picks(home) == "synth"


def test_without_network_one_line_within_seconds_that_names_the_way_offline(tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    started = time.monotonic()
    result = mrtd("models", "install", NAME, "--magenta-home", str(tmp_path / "home"),
                  env={"HF_ENDPOINT": f"http://127.0.0.1:{closed}", "HF_HOME": str(tmp_path / "hf")})
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0] and "--from DIR" in lines[0], result.stderr
    assert elapsed < 20, f"{elapsed:.1f} s"  # a cold interpreter importing MLX is most of it


@pytest.mark.parametrize("layout", ["model folder", "asset tree"])
def test_install_from_a_folder_as_the_official_tool_leaves_it(assets, tmp_path, layout):
    home = tmp_path / "home"
    source = assets / "magenta-rt-v2" / "models" / NAME if layout == "model folder" else assets
    result = mrtd("models", "install", NAME, "--from", str(source), "--magenta-home", str(home))
    assert result.returncode == 0, result.stderr
    marker = json.loads((home / "magenta-rt-v2" / "models" / NAME / MARKER_FILE).read_text())
    assert marker["source"] == "folder"
    assert auto_picks(home) == "mrt2"
    resources = mrtd("models", "install", "resources", "--from", str(assets), "--magenta-home", str(home))
    assert resources.returncode == 0, resources.stderr
    assert "embeds a text" in resources.stdout


@pytest.mark.parametrize("damage", ["truncated function", "truncated state", "foreign state", "foreign function"])
def test_install_from_a_folder_refuses_truncated_and_foreign_files_naming_the_file(assets, tmp_path, damage):
    home, source = tmp_path / "home", tmp_path / "usb"
    source.mkdir()
    original = assets / "magenta-rt-v2" / "models" / NAME
    for file in original.iterdir():
        (source / file.name).write_bytes(file.read_bytes())
    which = source / (f"{NAME}.mlxfn" if "function" in damage else f"{NAME}_state.safetensors")
    data = which.read_bytes()
    which.write_bytes(data[: len(data) // 2] if damage.startswith("truncated") else SECRET * 40)
    result = mrtd("models", "install", NAME, "--from", str(source), "--magenta-home", str(home))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(which) in lines[0], result.stderr
    assert ("truncated" in lines[0]) if damage.startswith("truncated") else ("not a" in lines[0])
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    assert leftovers(home) == [] and auto_picks(home) == "synth"


@pytest.fixture(scope="session")
def random_weights_home() -> Path:
    """A MAGENTA_HOME where `mrtd models install mrt2_small --random-weights --small` ran (cached per
    magenta-rt version, as tests/test_mrt2_official.py caches its export: it takes a minute)."""
    version = metadata.version("magenta-rt")
    home = Path(os.environ.get("MRTD_TEST_CACHE", Path.home() / ".cache" / "mrtd-tests")) / f"random-weights-{version}"
    if not (home / "magenta-rt-v2" / "models" / NAME / MARKER_FILE).is_file():
        result = mrtd("models", "install", NAME, "--random-weights", "--small", "--magenta-home", str(home),
                      timeout=900)
        assert result.returncode == 0, result.stderr
    return home


def test_random_weights_come_from_the_official_exporter_and_say_so(random_weights_home):
    marker = json.loads((random_weights_home / "magenta-rt-v2" / "models" / NAME / MARKER_FILE).read_text())
    assert marker["source"] == "random-weights" and marker["num_layers"] == 1
    listed = mrtd("models", "list", "--magenta-home", str(random_weights_home))
    assert "random weights" in listed.stdout.split(f"{NAME} ")[1].splitlines()[0]
    assert auto_picks(random_weights_home) == "mrt2"


def test_jax_random_weights_are_checked_through_the_jax_engine_then_placed(jax_home, tmp_path, monkeypatch, capsys):
    """`mrtd models install mrt2_small --random-weights --backend jax --small`: the checkpoint is made in a
    staging folder, loaded through the jax engine and stepped once, then renamed into checkpoints/.
    Making it is the jax fixture's own writer (write_random_checkpoint, which made the cached test
    checkpoint); here it copies that file, so the test pays for the check, not a second initialisation."""
    import shutil

    from mrtd.app.cli import main
    from mrtd.engines import jax_checkpoint
    from test_mrt2_jax import COMPILE_CACHE

    made: list[tuple] = []

    def write(path: Path, model: str, num_layers=None, depth_num_layers=None, seed: int = 42) -> int:
        made.append((model, num_layers, depth_num_layers))
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(jax_checkpoint.checkpoint_path(NAME, jax_home), path)
        return 1

    monkeypatch.setattr(jax_checkpoint, "write_random_checkpoint", write)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(COMPILE_CACHE))
    assert main(["models", "install", NAME, "--random-weights", "--backend", "jax", "--small",
                 "--magenta-home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "magenta-rt-v2" / "checkpoints" / f"{NAME}.safetensors"
    assert made == [(NAME, 1, 1)]
    assert f"{NAME}: installed at {target}" in out and "random weights" in out
    assert "loads through the official JAX system and steps on JAX cpu" in out
    assert jax_checkpoint.checkpoint_source(target) == "random-weights"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # the staging folder is gone


def test_jax_checkpoints_other_than_random_weights_point_to_the_official_download(tmp_path, capsys):
    from mrtd.app.cli import main

    assert main(["models", "install", NAME, "--backend", "jax", "--magenta-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "`mrt checkpoints download`" in err and f"{NAME}.safetensors" in err
    assert not (tmp_path / "magenta-rt-v2" / "checkpoints").exists()
