"""`mrtd models`: the MRT2 models and resources this machine has, and installing the rest.

Where things live is the mrt2 engine's (engines/mrt2.py: `models_dir`, `resources_dir`,
`model_files`) and MusicCoCa's (style/musiccoca_assets.py) business; this module only
fills those folders. Three sources, one install path:

- the hub the official tool uses (`hub.py`: `google/magenta-realtime-2`), checked against
  the sizes and hashes the hub lists;
- a folder (a USB stick, a copy from another machine): the model's own folder as the official
  tool leaves it, or a whole asset tree that holds it;
- the official exporter with random weights (`mrt mlx export --skip-restore`), to rehearse the
  whole path without the real weights.

Whatever the source, files land in a staging folder beside the target (a dot-folder that
neither `engine: auto`'s check nor `list` looks into), are checked there the way the daemon
will use them (the model is imported and stepped once on this machine's MLX device through
the mrt2 engine's own loader; MusicCoCa embeds a text through style_choice's own loader),
and only then renamed into place. A failed, interrupted or refused install leaves the
previous state of the target as it was. Each installed folder gets `mrtd-source.json`
(`MARKER_FILE`), which status, the page and `mrtd doctor` read to say where a model came from.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from mrtd.engines.mrt2 import (ENCODER_FILE, SOURCE_FILE, SOURCE_WORDS, installed_models, model_files, model_source,
                               models_dir, resources_dir)
from mrtd.style.musiccoca_assets import EMBEDDER_FILES, MAPPER_FILE, QUANTIZER_FILE

# The two models the official repository publishes (models/<name>/ on the hub); any other
# folder the hub's models/ holds (`mrtd models list --hub` shows them) installs the same way.
KNOWN_MODELS = ("mrt2_small", "mrt2_base")
RESOURCES = "resources"  # `mrtd models install resources`: every resource set, as `mrt models init` fetches
MUSICCOCA_FILES = (*EMBEDDER_FILES, QUANTIZER_FILE)
RESOURCE_SETS: dict[str, tuple[str, ...]] = {
    "musiccoca": MUSICCOCA_FILES,  # mapper.tflite is optional
    "spectrostream": (ENCODER_FILE,),  # the encoder mrtd's prefill runs; the hub's folder holds more
}
MARKER_FILE = SOURCE_FILE  # the marker the engine, status and `mrtd doctor` read (engines/mrt2.py)
STAGING_TAG = ".installing-"
SAFETENSORS_HEADER_MAX = 100 << 20  # a state file's JSON header is a few kB; refuse anything absurd
CHECK_TEXT = "warm analog synth pads"
EXPORT_TIMEOUT_S = 3600
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class InstallError(ValueError):
    """An install that was refused or failed; one line naming the file (never its content) and what to do."""


# -- names, markers, sizes ----------------------------------------------------------


def check_name(name: str) -> str:
    """A model name is a folder name: letters, digits, `_.-`, no path."""
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise InstallError(f"{name!r} is not a model name (letters, digits, _ . -; e.g. {KNOWN_MODELS[0]})")
    return name


def write_marker(folder: Path, source: str, repo: str | None, revision: str | None, **extra: Any) -> None:
    marker = {"source": source, "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "repo": repo, "revision": revision, **extra}
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")


def source_label(folder: Path) -> str:
    """How the folder's files got here, in words: downloaded, from a folder, random weights (or source unknown)."""
    return SOURCE_WORDS[model_source(folder)]


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


# -- what is installed ------------------------------------------------------------


@dataclass
class AssetStatus:
    """One model or resource set, as `mrtd models list` shows it."""

    kind: str  # "model" or "resources"
    name: str
    folder: Path
    installed: bool
    size: int
    source: str  # downloaded, from a folder, random weights, source unknown, or "" when not installed
    loads: str  # whether it loads here, in words ("not checked" when it was not)
    missing: tuple[str, ...] = ()


def installed_model_names(home: str | os.PathLike | None = None) -> list[str]:
    """Model folders under models/ with both files (what `engine: auto` would accept), staging folders never."""
    return [name for name in installed_models(home)
            if not name.startswith(".") and all(f.is_file() for f in model_files(models_dir(home) / name, name))]


def _mlx_check(path: Path) -> str:
    """Whether an exported function imports on this machine's MLX device (no step: that is the install's job)."""
    from mrtd.engines.mrt2 import ModelError, device_description, mlx_session

    try:
        with mlx_session() as mx:
            mx.import_function(str(path))
        return f"imports on {device_description()}; not stepped here (mrtd doctor times it)"
    except ModelError as error:  # MLX itself does not import
        return f"no: {error}"
    except Exception as error:  # MLX's own words for a broken file name no content
        return f"no: {path.name} does not import ({str(error).splitlines()[0][:120]})"


def model_status(name: str, home: str | os.PathLike | None = None, check_load: bool = True) -> AssetStatus:
    folder = models_dir(home) / name
    files = model_files(folder, name)
    missing = tuple(f.name for f in files if not f.is_file())
    installed = not missing
    if not installed:
        loads = "-"
    elif check_load:
        loads = _mlx_check(files[0])
    else:
        loads = "not checked"
    return AssetStatus("model", name, folder, installed, folder_size(folder) if installed else 0,
                       source_label(folder) if installed else "", loads, missing)


def resource_status(name: str, home: str | os.PathLike | None = None, check_load: bool = True) -> AssetStatus:
    folder = resources_dir(home) / name
    missing = tuple(f for f in RESOURCE_SETS[name] if not (folder / f).is_file())
    installed = not missing
    loads = "-"
    if installed and not check_load:
        loads = "not checked"
    elif installed and name == "spectrostream":
        loads = _mlx_check(folder / ENCODER_FILE)
    elif installed:
        from mrtd.app.style_choice import _extra_missing

        extra = _extra_missing()
        loads = f"no: {extra}" if extra else "files present, the musiccoca extra imports; not run here"
    return AssetStatus("resources", name, folder, installed, folder_size(folder) if installed else 0,
                       source_label(folder) if installed else "", loads, missing)


def list_assets(home: str | os.PathLike | None = None, check_load: bool = True) -> list[AssetStatus]:
    """Every known model, every installed one, and every resource set."""
    names = list(KNOWN_MODELS) + [n for n in installed_model_names(home) if n not in KNOWN_MODELS]
    return ([model_status(n, home, check_load) for n in names]
            + [resource_status(n, home, check_load) for n in RESOURCE_SETS])


def format_list(rows: list[AssetStatus]) -> str:
    lines = []
    for row in rows:
        if row.installed:
            state = f"installed, {human_size(row.size)}, {row.source}"
        elif row.missing and row.folder.is_dir():
            state = f"incomplete: missing {', '.join(row.missing)}"
        else:
            state = "not installed"
        lines.append(f"{row.name:<16} {row.kind:<9} {state}")
        lines.append(f"{'':<16} {'':<9} at {row.folder}")
        if row.installed:
            lines.append(f"{'':<16} {'':<9} loads here: {row.loads}")
        else:
            target = RESOURCES if row.kind == "resources" else row.name
            lines.append(f"{'':<16} {'':<9} get it: mrtd models install {target} (or --from DIR"
                         + (", or --random-weights to rehearse" if row.kind == "model" else "") + ")")
    return "\n".join(lines)


# -- staging and placing -------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clear_stale(parent: Path, name: str) -> None:
    """Staging folders that a killed install left (their process is gone)."""
    if not parent.is_dir():
        return
    for path in parent.glob(f".{name}{STAGING_TAG}*"):
        pid = path.name.rsplit("-", 2)[-2] if path.name.count("-") >= 2 else ""
        if not (pid.isdigit() and _pid_alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def staging(parent: Path, name: str) -> Iterator[Path]:
    """A fresh dot-folder beside `parent/name`, removed when the install ends (placed or not)."""
    parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(parent, name)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}{STAGING_TAG}{os.getpid()}-", dir=parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def place(staged: Path, target: Path) -> None:
    """Rename a checked folder into place; an older install is moved aside first and removed after.

    Both renames stay inside one folder, so each is atomic: `engine: auto` sees the old
    install, then briefly none, then the new one; never a mix."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _link_or_copy(source: Path, dest: Path) -> None:
    """A hard link when the source is on the same disk (the hub's cache: no second copy), else a copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source.resolve(), dest)
    except OSError:
        shutil.copyfile(source, dest)


# -- checks ---------------------------------------------------------------------------


def safetensors_problem(path: Path) -> str | None:
    """Why a file is not a whole safetensors file ("truncated ...", "not a safetensors file"), or None."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(8)
        if len(head) < 8:
            return f"truncated ({size} bytes) or not a safetensors file"
        (length,) = struct.unpack("<Q", head)
        if length > SAFETENSORS_HEADER_MAX:
            return "not a safetensors file"
        if 8 + length > size:
            return f"truncated ({size} bytes, its header alone needs {8 + length})"
        try:
            header = json.loads(file.read(length))
        except ValueError:
            return "not a safetensors file"
    if not isinstance(header, dict):
        return "not a safetensors file"
    ends = [entry.get("data_offsets", [0, 0])[1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict)]
    expected = 8 + length + max(ends, default=0)
    if size < expected:
        return f"truncated ({size} of {expected} bytes)"
    if size > expected:
        return f"has {size - expected} bytes after its last tensor (not the file it claims to be)"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _git_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ModelCheck:
    device: str
    step_ms: float


def verify_model(folder: Path, name: str, origin: str) -> ModelCheck:
    """Import the model through the mrt2 engine's loader and step it once on this device.

    `folder` holds `<name>.mlxfn` and `<name>_state.safetensors` inside a staging home
    (`.../magenta-rt-v2/models/<name>/`); messages name the file as `origin/<file>`."""
    from mrtd.conditioning import Conditioning
    from mrtd.engines.mrt2 import Mrt2Engine, ModelError, device_description

    function_path, state_path = model_files(folder, name)
    for path in (function_path, state_path):
        if not path.is_file():
            raise InstallError(f"{origin}/{path.name}: missing")
    problem = safetensors_problem(state_path)
    if problem:
        raise InstallError(f"{origin}/{state_path.name}: {problem}; nothing was installed")
    home = folder.parent.parent.parent  # <home>/magenta-rt-v2/models/<name>
    try:
        engine = Mrt2Engine(model=name, magenta_home=home, warmup_steps=1)
    except ModelError as error:
        message = str(error).splitlines()[0].replace(str(folder), origin)
        if "cannot import" in message:  # MLX's reason, after the path: a truncated or foreign file
            message = (f"{origin}/{function_path.name}: truncated or not an MLX function export "
                       f"({message.rsplit(': ', 1)[-1][:120]})")
        raise InstallError(f"{message}; nothing was installed") from error
    try:
        started = time.perf_counter()
        engine.step(Conditioning())
        step_ms = (time.perf_counter() - started) * 1000.0
    except Exception as error:  # a function that imports but cannot run
        raise InstallError(f"{origin}/{function_path.name}: imports but does not step "
                           f"({str(error).splitlines()[0][:160]}); nothing was installed") from error
    finally:
        engine.close()
    return ModelCheck(device_description(), step_ms)


def verify_musiccoca(folder: Path, origin: str) -> str:
    """Load MusicCoCa as the daemon does (style_choice) and embed a text; the words for the report."""
    from mrtd.app.style_choice import choose_style

    try:
        choice = choose_style(folder, want="musiccoca")
        embedding = choice.embedder.embed_text(CHECK_TEXT)
        tokens = choice.quantizer.quantize(embedding)
    except Exception as error:  # RuntimeError (missing extra), ValueError/OSError (a damaged file): one line
        message = str(error).splitlines()[0].replace(str(folder), origin)
        raise InstallError(f"MusicCoCa: {message}; nothing was installed") from error
    return f"embeds a text ({embedding.shape[0]}-d, tokens {' '.join(str(int(t)) for t in tokens[:6])} ...)"


def verify_spectrostream(folder: Path, origin: str) -> str:
    from mrtd.engines.mrt2 import ModelError, device_description, mlx_session

    path = folder / ENCODER_FILE
    if not path.is_file():
        raise InstallError(f"{origin}/{ENCODER_FILE}: missing")
    try:
        with mlx_session() as mx:
            mx.import_function(str(path))
    except ModelError as error:
        raise InstallError(str(error)) from error
    except Exception as error:
        raise InstallError(f"{origin}/{ENCODER_FILE}: not an MLX function export or truncated "
                           f"({str(error).splitlines()[0][:120]}); nothing was installed") from error
    return f"the encoder imports on {device_description()}"


# -- installs -------------------------------------------------------------------------


@dataclass
class Installed:
    """What an install placed, and what its check found (the lines `mrtd models install` prints)."""

    name: str
    folder: Path
    source: str
    size: int
    checks: list[str]


def _model_stage(stage: Path, name: str) -> Path:
    folder = models_dir(stage) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _finish_model(folder: Path, name: str, origin: str, home: str | os.PathLike | None,
                  source: str, repo: str | None, revision: str | None, **extra: Any) -> Installed:
    check = verify_model(folder, name, origin)
    write_marker(folder, source, repo, revision, **extra)
    target = models_dir(home) / name
    size = folder_size(folder)
    place(folder, target)
    return Installed(name, target, source, size,
                     [f"imports and steps on {check.device}: one step took {check.step_ms:.0f} ms "
                      f"(the budget is 40 ms; mrtd doctor measures it properly)"])


def _check_download(file: Any, path: Path) -> None:
    """The hub's size and hash for `file` against the bytes that arrived."""
    from mrtd.app import hub

    size = path.stat().st_size
    if file.size is not None and size != file.size:
        hub.forget(path)
        raise InstallError(f"{file.path}: {size} bytes arrived, the hub lists {file.size}; nothing was installed, "
                           "run the install again")
    if file.sha256 is not None:
        ok, what = _sha256(path) == file.sha256, "sha256"
    elif file.git_sha1 is not None:
        ok, what = _git_sha1(path) == file.git_sha1, "git hash"
    else:
        ok, what = True, ""
    if not ok:
        hub.forget(path)
        raise InstallError(f"{file.path}: its {what} is not the one the hub lists (a damaged download); "
                           "nothing was installed, run the install again")


def _download_into(listing: Any, folder_in_repo: str, dest: Path) -> list[str]:
    from mrtd.app import hub

    prefix = folder_in_repo.rstrip("/") + "/"
    names = []
    for file in listing.files:
        cached = hub.fetch(listing, file)
        _check_download(file, cached)
        relative = file.path[len(prefix):]
        if relative.startswith(".") or ".." in Path(relative).parts:
            continue  # never a hidden or escaping path from a listing
        _link_or_copy(cached, dest / relative)
        names.append(relative)
    return names


def install_model_from_hub(name: str, home: str | os.PathLike | None = None,
                           revision: str | None = None) -> Installed:
    from mrtd.app import hub

    check_name(name)
    listing = hub.list_folder(f"models/{name}", revision)
    listed = {f.path.rsplit("/", 1)[-1] for f in listing.files}
    for needed in (f"{name}.mlxfn", f"{name}_state.safetensors"):
        if needed not in listed:
            raise InstallError(f"the hub's models/{name} has no {needed}; is {name!r} a model name? "
                               "(mrtd models list --hub shows them)")
    with staging(models_dir(home), name) as stage:
        folder = _model_stage(stage, name)
        _download_into(listing, f"models/{name}", folder)
        origin = f"{hub.endpoint()}/{listing.repo}/models/{name}"
        installed = _finish_model(folder, name, origin, home, "hub", listing.repo, listing.revision)
    installed.checks.insert(0, f"sizes and hashes match the hub's ({listing.repo} at {listing.revision[:12]})")
    return installed


def install_resources_from_hub(home: str | os.PathLike | None = None,
                               revision: str | None = None) -> list[Installed]:
    from mrtd.app import hub

    done = []
    for name in RESOURCE_SETS:
        listing = hub.list_folder(f"resources/{name}", revision)
        revision = listing.revision  # every set from the same commit
        with staging(resources_dir(home), name) as stage:
            folder = stage / name
            folder.mkdir()
            _download_into(listing, f"resources/{name}", folder)
            origin = f"{hub.endpoint()}/{listing.repo}/resources/{name}"
            checks = [f"sizes and hashes match the hub's ({listing.repo} at {listing.revision[:12]})",
                      _verify_resource(name, folder, origin)]
            write_marker(folder, "hub", listing.repo, listing.revision)
            done.append(_place_resource(folder, name, home, "hub", checks))
    return done


def _verify_resource(name: str, folder: Path, origin: str) -> str:
    missing = [f for f in RESOURCE_SETS[name] if not (folder / f).is_file()]
    if missing:
        raise InstallError(f"{origin}: no {', '.join(missing)}; nothing was installed")
    return verify_musiccoca(folder, origin) if name == "musiccoca" else verify_spectrostream(folder, origin)


def _place_resource(folder: Path, name: str, home: str | os.PathLike | None, source: str,
                    checks: list[str]) -> Installed:
    target = resources_dir(home) / name
    size = folder_size(folder)
    place(folder, target)
    return Installed(name, target, source, size, checks)


# -- from a folder ----------------------------------------------------------------------


def find_model_folder(source: Path, name: str) -> Path:
    """The folder in `source` that holds the model: itself, `<name>/`, `models/<name>/` or
    `magenta-rt-v2/models/<name>/` (the official tool's layout, at any of its levels)."""
    for folder in (source, source / name, source / "models" / name, models_dir(source) / name):
        if any(f.is_file() for f in model_files(folder, name)):
            return folder
    raise InstallError(f"{source}: no {name}.mlxfn or {name}_state.safetensors there, in {name}/, "
                       f"or in magenta-rt-v2/models/{name}/")


def find_resource_folder(source: Path, name: str) -> Path | None:
    for folder in (source / name, source / "resources" / name, resources_dir(source) / name, source):
        if any((folder / f).is_file() for f in RESOURCE_SETS[name]):
            return folder
    return None


def _copy_in(source: Path, dest: Path) -> None:
    try:
        shutil.copyfile(source, dest)
    except OSError as error:
        raise InstallError(f"{source}: cannot read it ({error.strerror or type(error).__name__})") from error


def install_model_from_folder(name: str, source: str | os.PathLike,
                              home: str | os.PathLike | None = None) -> Installed:
    check_name(name)
    origin_root = Path(source).expanduser()
    if not origin_root.is_dir():
        raise InstallError(f"{origin_root}: not a folder")
    origin = find_model_folder(origin_root, name)
    with staging(models_dir(home), name) as stage:
        folder = _model_stage(stage, name)
        for wanted in model_files(origin, name):
            if not wanted.is_file():
                raise InstallError(f"{wanted}: missing (a model is {name}.mlxfn and {name}_state.safetensors)")
            _copy_in(wanted, folder / wanted.name)
        return _finish_model(folder, name, str(origin), home, "folder", None, None, path=str(origin))


def install_resources_from_folder(source: str | os.PathLike,
                                  home: str | os.PathLike | None = None) -> list[Installed]:
    origin_root = Path(source).expanduser()
    if not origin_root.is_dir():
        raise InstallError(f"{origin_root}: not a folder")
    found = {name: find_resource_folder(origin_root, name) for name in RESOURCE_SETS}
    if not any(found.values()):
        raise InstallError(f"{origin_root}: no MusicCoCa ({MUSICCOCA_FILES[0]}, ...) or SpectroStream "
                           f"({ENCODER_FILE}) files there, in resources/, or in magenta-rt-v2/resources/")
    done = []
    for name, origin in found.items():
        if origin is None:
            continue
        with staging(resources_dir(home), name) as stage:
            folder = stage / name
            folder.mkdir()
            optional = (MAPPER_FILE,) if name == "musiccoca" else tuple(
                p.name for p in origin.glob("*.safetensors"))  # the official folder's codec weights come along
            for file in (*RESOURCE_SETS[name], *optional):
                if (origin / file).is_file():
                    _copy_in(origin / file, folder / file)
            checks = [_verify_resource(name, folder, str(origin))]
            write_marker(folder, "folder", None, None, path=str(origin))
            done.append(_place_resource(folder, name, home, "folder", checks))
    return done


# -- random weights ------------------------------------------------------------------------


def exporter_command() -> list[str]:
    """The official `mrt` command, or InstallError saying how to get it."""
    if importlib.util.find_spec("magenta_rt") is None:
        raise InstallError("--random-weights needs the official exporter: pip install magenta-rt "
                           "(heavy: jax, flax; a minute to install)")
    beside = Path(sys.executable).with_name("mrt")
    found = str(beside) if beside.is_file() else shutil.which("mrt")
    if found is None:
        raise InstallError("--random-weights: magenta-rt is installed but its `mrt` command is not on PATH")
    return [found]


def install_random_weights(name: str, home: str | os.PathLike | None = None, num_layers: int | None = None,
                           depth_num_layers: int | None = None) -> Installed:
    """The official architecture with random weights, exported by the official exporter."""
    check_name(name)
    if name not in KNOWN_MODELS:
        raise InstallError(f"--random-weights makes one of {', '.join(KNOWN_MODELS)} (the exporter's model names)")
    command = exporter_command()
    with staging(models_dir(home), name) as stage:
        out = models_dir(stage)
        out.mkdir(parents=True)
        command += ["mlx", "export", "--output-name", name, "--model", name, "--skip-restore", "--output-dir", str(out)]
        for flag, value in (("--num-layers", num_layers), ("--depth-num-layers", depth_num_layers)):
            if value is not None:
                command += [flag, str(int(value))]
        # MAGENTA_HOME inside the staging folder: whatever else the exporter writes goes away with it.
        env = {**os.environ, "MAGENTA_HOME": str(stage)}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired as error:
            raise InstallError(f"the official exporter ran past {EXPORT_TIMEOUT_S} s; nothing was installed") from error
        if done.returncode != 0:
            lines = [line for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
            last = lines[-1][:200] if lines else "no output"
            raise InstallError(f"the official exporter failed (exit {done.returncode}): {last}; nothing was installed")
        from importlib import metadata

        version = metadata.version("magenta-rt")
        layers = {"num_layers": num_layers, "depth_num_layers": depth_num_layers}
        return _finish_model(out / name, name, f"the exporter's {name}", home, "random-weights", None,
                             f"magenta-rt {version}", **layers)


# -- the jax backend's checkpoint -----------------------------------------------------------
# Only random weights here: the official checkpoint itself is `mrt checkpoints download` (magenta-rt's
# CLI, installed with the jax extra), which writes checkpoints/<name>.safetensors exactly where the jax
# backend reads it. A hub download and `--from DIR` for checkpoints would go through this same
# staging and check; they are not written yet.


def install_jax_random_weights(name: str, home: str | os.PathLike | None = None, num_layers: int | None = None,
                               depth_num_layers: int | None = None) -> Installed:
    """The official architecture's own random initialisation as a JAX checkpoint, checked by loading it
    through the jax engine and stepping it once, then renamed into checkpoints/."""
    from mrtd.conditioning import Conditioning
    from mrtd.engines.jax_checkpoint import checkpoint_path, checkpoints_dir, write_random_checkpoint
    from mrtd.engines.mrt2 import ModelError
    from mrtd.engines.mrt2_jax import Mrt2JaxEngine

    check_name(name)
    if name not in KNOWN_MODELS:
        raise InstallError(f"--random-weights makes one of {', '.join(KNOWN_MODELS)} (the official model classes)")
    target = checkpoint_path(name, home)
    with staging(checkpoints_dir(home), name) as stage:
        staged = checkpoint_path(name, stage)
        try:
            write_random_checkpoint(staged, name, num_layers, depth_num_layers)
            engine = Mrt2JaxEngine(name, stage, warmup_steps=1)
        except ModelError as error:  # no JAX (the extra named), or the official classes refused
            raise InstallError(f"{str(error).splitlines()[0]}; nothing was installed") from error
        try:
            started = time.perf_counter()
            engine.step(Conditioning())
            step_ms = (time.perf_counter() - started) * 1000.0
            device = engine.hardware()
        except Exception as error:
            raise InstallError(f"the random checkpoint loads but does not step ({str(error).splitlines()[0][:160]}); "
                               "nothing was installed") from error
        finally:
            engine.close()
        size = staged.stat().st_size
        os.replace(staged, target)  # one file in one folder: atomic, an older checkpoint replaced whole
    return Installed(name, target, "random weights", size,
                     [f"loads through the official JAX system and steps on {device}: one step took {step_ms:.0f} ms "
                      "(the first after the compile; the budget is 40 ms; mrtd doctor measures it properly)"])
