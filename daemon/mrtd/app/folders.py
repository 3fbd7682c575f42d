"""The daemon's folders: systemd's as the defaults, and whether the user it runs as can use them.

Under systemd the unit's `StateDirectory=`, `CacheDirectory=` and `ConfigurationDirectory=`
make the folders (owned by the service's user) and name them in STATE_DIRECTORY,
CACHE_DIRECTORY and CONFIGURATION_DIRECTORY. They are the defaults for the journal, the
embedding cache, recordings, audio prompts and scenes, before anything under `~`: a service
user's HOME often does not exist (`useradd --system` makes none) or is read-only
(`ProtectHome=`). A folder the config file or a flag names still wins.

LOGS_DIRECTORY is not read: the daemon writes no log files (its log goes to stderr, which
journald keeps). Recordings are takes a person wants back, not logs, so they go under the state
folder, which systemd keeps across restarts and upgrades as it does the journal.

`folder_problems` is what both `mrtd run` and `mrtd check --config` ask before the daemon starts,
as the user they run as, so the check cannot pass a config the start then refuses.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mrtd.style.cache import default_cache_dir

# setting: (the variable systemd sets, the sub-folder of it the setting takes)
SYSTEMD_FOLDERS: dict[str, tuple[str, str]] = {
    "state_dir": ("STATE_DIRECTORY", ""),
    "record_dir": ("STATE_DIRECTORY", "recordings"),
    "audio_dir": ("STATE_DIRECTORY", "audio"),
    "cache_dir": ("CACHE_DIRECTORY", "embeddings"),
    "scene_dir": ("CONFIGURATION_DIRECTORY", "scenes"),
}


def systemd_folder(variable: str, environ: Mapping[str, str]) -> str | None:
    """The folder systemd names in `variable`: the first when a unit lists several
    (`StateDirectory=mrtd mrtd/extra` sets `/var/lib/mrtd:/var/lib/mrtd/extra`), None when unset."""
    first = environ.get(variable, "").split(":")[0]
    return first if os.path.isabs(first) else None


def systemd_defaults(environ: Mapping[str, str], given: set[str]) -> dict[str, str]:
    """The folder settings systemd's variables supply, for the settings not in `given`."""
    defaults = {}
    for key, (variable, sub) in SYSTEMD_FOLDERS.items():
        base = systemd_folder(variable, environ)
        if key not in given and base is not None:
            defaults[key] = os.path.join(base, sub) if sub else base
    return defaults


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no name (a container's): the number says enough
        return f"uid {os.getuid()}"


def _can_write(folder: Path) -> bool:
    """This process's real user can write in `folder`, or create it (its nearest existing parent).
    A folder it cannot even look at (a relative one in a working directory it may not enter) is no."""
    path = folder
    try:
        while not path.exists():
            if path.parent == path:
                return False
            path = path.parent
        return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    except OSError:
        return False


def _cannot_read(path: Path, kind: str) -> bool:
    """`path` is a `kind` ("dir" or "file") this user cannot read (False where there is none)."""
    try:
        there = path.is_dir() if kind == "dir" else path.is_file()
    except OSError:
        return True
    return there and not os.access(path, os.R_OK | (os.X_OK if kind == "dir" else 0))


def folder_problems(settings: Any) -> tuple[list[str], list[str]]:
    """(errors, notes) about the folders `settings` names, for the user this process runs as.

    Errors stop the start: a state folder the journal cannot write (the music would not come
    back after a power cut), a scene file it cannot read. Notes are logged and the daemon plays
    on: an unwritable cache keeps embeddings in memory, an unwritable recordings folder or an
    unreadable scene folder fails each /mrt/record/start or /mrt/scene/load with its reason."""
    user = _user()
    errors: list[str] = []
    notes: list[str] = []
    state = settings.state_dir
    if state is not None and not _can_write(Path(state).expanduser()):
        errors.append(f"state_dir: user {user} cannot write {state} (the state journal lives there)")
    scene = settings.scene
    if scene is not None and _cannot_read(Path(scene).expanduser(), "file"):
        errors.append(f"scene: user {user} cannot read {scene}")
    if _cannot_read(Path(settings.scene_dir).expanduser(), "dir"):
        notes.append(f"scene_dir: user {user} cannot read {settings.scene_dir}: /mrt/scene/load will fail")
    cache = Path(settings.cache_dir).expanduser() if settings.cache_dir is not None else default_cache_dir()
    if not _can_write(cache):
        notes.append(f"cache_dir: user {user} cannot write {cache}: embeddings are kept in memory, "
                     f"and encoded again after a restart")
    if not _can_write(Path(settings.record_dir).expanduser()):
        notes.append(f"record_dir: user {user} cannot write {settings.record_dir}: recordings will fail")
    return errors, notes
