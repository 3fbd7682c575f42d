"""The config file: every setting of the daemon, in one YAML file, checked all at once.

The file's keys are `DaemonConfig`'s fields (and OSC's under `osc:`), plus the
process's own: log level and format, and MAGENTA_HOME. Command-line flags
override the file; MAGENTA_HOME from the environment is honoured when the
file does not set it. Every mistake in the file is reported together, each as
`file:line: field: message`, with "did you mean" for misspelt keys.

    engine: auto                 # auto | synth | mrt2
    model: mrt2_small
    output: default              # or device:NAME, wav:PATH, null; more sinks under outputs:
    latency: balanced            # low | balanced | safe, or a margin in ms: latency: 15
    osc: {bind: 0.0.0.0, port: 7400, allow: [192.168.1.0/24]}
    web: {bind: 0.0.0.0, port: 7401}  # the tablet page; off loopback: OSC's allow-list and a token
    dirt: {select: s, sounds: {pad: note, fx: param:cfg_style, drop: cue:chorus}}
    midi_ports: [nanoKONTROL]
    scene: /etc/mrtd/gallery.yaml
    scene_dir: /etc/mrtd/scenes
    record_dir: /var/lib/mrtd/recordings
    state_dir: /var/lib/mrtd     # the state journal: resume after a power cut
    log_level: info
    log_json: false
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from mrtd.app.daemon import MAX_LEAD_FRAMES, DaemonConfig
from mrtd.app.folders import folder_problems, systemd_defaults
from mrtd.inputs.osc.dialect import DirtConfig
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.web.config import WebConfig
from mrtd.yamlcheck import YamlError, load_yaml

# Unknown keys are mistakes: pydantic reads this when it validates the dataclasses.
DaemonConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
OscConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
WebConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
DirtConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


class ConfigError(YamlError):
    """A config file that cannot be used; `errors` holds every problem."""


FOLDERS = ("scene_dir", "record_dir", "state_dir", "audio_dir", "cache_dir")
MUST_EXIST = ("scene_dir",)  # the others are made when first written to


def _pipe_path(spec: object) -> str | None:
    if not isinstance(spec, str) or not spec.startswith("pipe:"):
        return None
    rest = spec[len("pipe:"):]
    for fmt in ("s16le:", "f32le:"):
        rest = rest.removeprefix(fmt)
    return None if rest in ("", "-") else rest


def path_problems(values: dict[str, Any], require_folders: bool = True) -> list[tuple[tuple, str]]:
    """Paths that would only fail later (a folder that is a file, a pipe that is not a FIFO), now.
    Looks only at what `values` names, and runs on the raw file, so these come with every other error."""
    problems: list[tuple[tuple, str]] = []
    for key in FOLDERS:
        folder = values.get(key)
        if not isinstance(folder, str):
            continue
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            problems.append(((key,), f"{folder} is not a folder"))
        elif require_folders and key in MUST_EXIST and not path.exists():
            problems.append(((key,), f"no folder {folder}"))
    scene = values.get("scene")
    if isinstance(scene, str) and not Path(scene).expanduser().is_file():
        problems.append((("scene",), f"no scene file {scene}"))
    specs: list[tuple[tuple, object]] = [(("output",), values.get("output"))]
    outputs = values.get("outputs")
    if isinstance(outputs, list):
        specs += [(("outputs", i), o) for i, o in enumerate(outputs)]
    for where, spec in specs:
        pipe = _pipe_path(spec)
        if pipe is None:
            continue
        path = Path(pipe).expanduser()
        if not path.exists():
            problems.append((where, f"no FIFO at {pipe} (make one with mkfifo, or use pipe:- for stdout)"))
        elif not stat.S_ISFIFO(path.stat().st_mode):
            problems.append((where, f"{pipe} is not a FIFO (make one with mkfifo, or use pipe:- for stdout)"))
    osc = values.get("osc")
    if isinstance(osc, dict):
        try:
            OscConfig(**osc)
        except TypeError:
            pass  # an unknown key: the model's own check names it, with a did-you-mean
        except ValueError as exc:  # the allow-list rule, found with everything else
            problems.append((("osc",), str(exc)))
    return problems


@dataclass
class Settings(DaemonConfig):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    magenta_home: str | None = None
    web: WebConfig | None = field(default_factory=WebConfig)  # `mrtd run` serves the page (web: null turns it off)

    __pydantic_config__ = ConfigDict(extra="forbid")

    def daemon_config(self) -> DaemonConfig:
        own = {f.name for f in fields(DaemonConfig)}
        return DaemonConfig(**{k: v for k, v in vars(self).items() if k in own})


def load_settings(path: str | Path | None, overrides: dict[str, Any], require_folders: bool = False,
                  environ: Mapping[str, str] = os.environ) -> Settings:
    """The file's settings (or the defaults), with command-line `overrides` on top; folders
    neither names come from systemd's variables in `environ` where it sets them (app/folders.py).

    `require_folders` (what `mrtd run` asks): the scene folder must exist now, on this machine;
    without it the file can be checked elsewhere (the packaged example names no folder)."""
    in_file: set[str] = set()

    def check(values: dict[str, Any]) -> list[tuple[tuple, str]]:
        in_file.update(values)  # the raw file's keys: what it names, even as null, beats systemd's folders
        return path_problems(values, require_folders)

    settings = load_yaml(path, Settings, error=ConfigError, raw_check=check) if path is not None else Settings()
    flags = {k: v for k, v in overrides.items() if v is not None and k != "osc"}
    flagged = path_problems(flags, require_folders)
    if flagged:
        raise ConfigError("command line", [f"--{where[0].replace('_', '-')}: {message}" for where, message in flagged])
    values = {**vars(settings), **systemd_defaults(environ, in_file | set(overrides)), **overrides}
    osc_overrides = {k: values.pop(k) for k in list(values) if k.startswith("osc_")}
    if values.get("osc") is not None and osc_overrides:
        osc = vars(values["osc"]) | {k[len("osc_"):]: v for k, v in osc_overrides.items()}
        values["osc"] = OscConfig(**osc)
    web_overrides = {k: values.pop(k) for k in list(values) if k.startswith("web_")}
    if values.get("web") is not None and web_overrides:
        values["web"] = WebConfig(**(vars(values["web"]) | {k[len("web_"):]: v for k, v in web_overrides.items()}))
    if "lead_frames" in overrides:  # an explicit --lead wins over any latency
        if not 1 <= overrides["lead_frames"] <= MAX_LEAD_FRAMES:
            raise ConfigError("command line", [f"--lead: lies in 1-{MAX_LEAD_FRAMES} frames of 40 ms, got {overrides['lead_frames']}"])
    elif "latency" in overrides:
        values["lead_frames"] = None  # --latency wins over the file's lead_frames (which wins over its latency)
    merged = Settings(**values)
    if merged.magenta_home is None and os.environ.get("MAGENTA_HOME"):
        merged.magenta_home = os.environ["MAGENTA_HOME"]
    if merged.magenta_home is not None:
        os.environ["MAGENTA_HOME"] = merged.magenta_home  # the engines and embedders read it there
    return merged


def settings_for_start(path: str | Path | None, overrides: dict[str, Any],
                       environ: Mapping[str, str] = os.environ) -> tuple[Settings, list[str]]:
    """What `mrtd run` starts with and `mrtd check --config` checks, by one path: the settings,
    and the notes to log about them; ConfigError for a config the start would refuse, folders
    this user cannot use included (app/folders.py)."""
    settings = load_settings(path, overrides, require_folders=True, environ=environ)
    errors, notes = folder_problems(settings)
    if errors:
        name = str(path) if path is not None else "command line"
        raise ConfigError(name, [f"{name}: {error}" for error in errors])
    return settings, notes
