"""The config file: every setting of the daemon, in one YAML file, checked all at once.

The file's keys are `DaemonConfig`'s fields (and OSC's under `osc:`), plus the
process's own: log level and format, and MAGENTA_HOME. Command-line flags
override the file; MAGENTA_HOME from the environment is honoured when the
file does not set it. Every mistake in the file is reported together, each as
`file:line: field: message`, with "did you mean" for misspelt keys.

    engine: auto                 # auto | synth | mrt2
    model: mrt2_small
    output: default              # or device:NAME, wav:PATH, null; more sinks under outputs:
    latency: balanced            # low | balanced | safe (or lead_frames: N)
    osc: {bind: 0.0.0.0, port: 7400, allow: [192.168.1.0/24]}
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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from mrtd.app.daemon import DaemonConfig
from mrtd.inputs.osc.dialect import DirtConfig
from mrtd.inputs.osc.server import OscConfig
from mrtd.yamlcheck import YamlError, load_yaml

# Unknown keys are mistakes: pydantic reads this when it validates the dataclasses.
DaemonConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
OscConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
DirtConfig.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


class ConfigError(YamlError):
    """A config file that cannot be used; `errors` holds every problem."""


@dataclass
class Settings(DaemonConfig):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False
    magenta_home: str | None = None

    __pydantic_config__ = ConfigDict(extra="forbid")

    def daemon_config(self) -> DaemonConfig:
        own = {f.name for f in fields(DaemonConfig)}
        return DaemonConfig(**{k: v for k, v in vars(self).items() if k in own})


def load_settings(path: str | Path | None, overrides: dict[str, Any]) -> Settings:
    """The file's settings (or the defaults), with command-line `overrides` on top."""
    settings = load_yaml(path, Settings, error=ConfigError) if path is not None else Settings()
    values = {**vars(settings), **overrides}
    osc_overrides = {k: values.pop(k) for k in list(values) if k.startswith("osc_")}
    if values.get("osc") is not None and osc_overrides:
        osc = vars(values["osc"]) | {k[len("osc_"):]: v for k, v in osc_overrides.items()}
        values["osc"] = OscConfig(**osc)
    merged = Settings(**values)
    if "lead_frames" in overrides:
        merged.lead_frames = overrides["lead_frames"]  # an explicit --lead wins over a latency preset's
    if merged.magenta_home is None and os.environ.get("MAGENTA_HOME"):
        merged.magenta_home = os.environ["MAGENTA_HOME"]
    if merged.magenta_home is not None:
        os.environ["MAGENTA_HOME"] = merged.magenta_home  # the engines and embedders read it there
    return merged
