"""docs/config.md, generated from the config dataclasses, so the page cannot drift from the code.

Each key's line is its field: name, type, default, and the comment written
beside the field in the source (the one place a key is explained).
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
from typing import Any

from mrtd.app.config import Settings
from mrtd.inputs.osc.server import OscConfig
from mrtd.inputs.web.config import WebConfig

INTRO = """# Config file keys

Generated from `DaemonConfig` (daemon/mrtd/app/daemon.py), `Settings` (daemon/mrtd/app/config.py)
`OscConfig` (daemon/mrtd/inputs/osc/server.py) and `WebConfig` (daemon/mrtd/inputs/web/config.py) by
`mrtd config-reference`; a test fails when it is stale.

`mrtd run --config FILE` reads a YAML mapping of these keys; command-line flags override it.
Relative folders (`scene_dir`, `record_dir`, `audio_dir`) are taken from the working directory
the daemon starts in: the start-up log and `/mrt/status` (`scene_dir`, `record_dir`) say where they are.

Under systemd the folders the unit makes are the defaults, before the ones below (daemon/mrtd/app/folders.py):
`state_dir` is `$STATE_DIRECTORY` (`StateDirectory=`), `record_dir` and `audio_dir` are `recordings` and
`audio` in it, `cache_dir` is `$CACHE_DIRECTORY/embeddings` and `scene_dir` is
`$CONFIGURATION_DIRECTORY/scenes`; where a unit lists several folders, the first. A key the file or a
flag sets wins (`state_dir: null` turns the journal off). `mrtd run` and `mrtd check --config` check,
as the user they run as, that the state folder can be written and the scene folder and scene read
(else they stop with the reason); a cache or recordings folder it cannot write is logged, and the
cache then keeps embeddings in memory.
"""


# Keys whose field carries no comment in the source (those files belong to other parts of
# the code; a comment written beside a field there takes precedence over this).
MEANINGS = {
    "engine": "auto picks mrt2 when its assets are present, else synth (the log and /mrt/status say which)",
    "model": "mrt2 model name under $MAGENTA_HOME/magenta-rt-v2/models/ (default mrt2_small)",
    "output": "clock master: default (sound card), device:NAME, null, wav:PATH, flac:PATH, pipe:PATH",
    "prompt": "text prompt to start with",
    "seed": "sampling seed, 0 to 2**31-1 (applied at reset)",
    "scene_dir": "folder /mrt/scene/load reads scenes from; relative: from the working directory",
    "record_dir": "folder /mrt/record/start writes takes to (never over an old take); relative: from the working directory",
    "log_level": "debug, info, warning or error",
    "log_json": "one JSON object per log line (for a log collector)",
    "magenta_home": "where the MRT2 assets live; default $MAGENTA_HOME, else ~/Documents/Magenta",
    "bind": "address to listen on; anything but loopback needs `allow`",
    "port": "UDP and TCP port (0: any free port)",
    "tcp": "also accept OSC over TCP (SLIP-framed)",
    "allow_loopback": "loopback may always talk to the daemon, whatever `allow` says (`mrtd send` speaks from 127.0.0.1); false locks local tools out too",
    "trust_loopback": "replies to loopback are not byte-bounded (a packet from 127/8 cannot come from another host); false bounds them like any address",
    "tcp_message_s": "seconds a TCP connection has to finish a message once its first byte came; slower, it is closed (a drip of bytes holds no slot)",
    "tcp_idle_s": "seconds a TCP connection may go without one whole message before it is closed",
    "tcp_per_address": "TCP connections open at once from one address (32 in all)",
}


def field_comments(cls: type) -> dict[str, str]:
    """The trailing `# comment` of each `name: type = default` line in `cls` and its bases."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        source = inspect.getsource(klass)
        current: str | None = None
        depth = 0
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
            if token.type == tokenize.NAME and current is None and depth == 0 and token.start[1] == 4:
                current = token.string
            elif token.type == tokenize.COMMENT and current is not None:
                comments[current] = token.string.lstrip("# ").strip()
            elif token.type in (tokenize.NEWLINE, tokenize.NL):
                current = None
    return comments


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if dataclasses.is_dataclass(value):
        return "see below"
    return str(value) if not isinstance(value, str) else (value or '""')


def _table(cls: type, prefix: str = "") -> list[str]:
    comments = field_comments(cls)
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        kind = str(field.type).replace("|", "\\|")
        meaning = (comments.get(field.name) or MEANINGS.get(field.name, "")).replace("|", "\\|")
        lines.append(f"| `{prefix}{field.name}` | `{kind}` | `{_yaml_value(_default(field))}` | {meaning} |")
    return lines


def undocumented() -> list[str]:
    """Keys with neither a source comment nor an entry in MEANINGS."""
    return [f.name for cls in (Settings, OscConfig, WebConfig) for f in dataclasses.fields(cls)
            if not (field_comments(cls).get(f.name) or MEANINGS.get(f.name))]


def config_markdown() -> str:
    lines = [INTRO, "## Top level", "", *_table(Settings), "", "## `osc:`", "",
             "`osc: null` turns OSC off.", "", *_table(OscConfig, "osc."), "", "## `web:`", "",
             "`web: null` turns the page off.", "", *_table(WebConfig, "web."), ""]
    return "\n".join(lines)


def osc_markdown() -> str:
    """docs/osc.md: the address table and dialects (inputs/osc/table.py), then the feedback messages."""
    from mrtd.feedback.snapshot import feedback_markdown
    from mrtd.vocabulary.replies import responses_markdown
    from mrtd.inputs.osc.table import reference_markdown

    return reference_markdown() + "\n".join(responses_markdown() + feedback_markdown()) + "\n"
