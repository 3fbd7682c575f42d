"""The web token kept in the state folder, so a wall-mounted tablet's URL survives a restart.

Off loopback the page asks for a token (the passphrase in the URL `mrtd run`
prints). Without a state folder it is fresh at every start; with one it is kept
in `<state_dir>/web-token` (mode 0600, written atomically) and reused, until
`mrtd web-token --rotate` makes a new one (a running daemon takes it at its next
start). A token set in the config wins over the kept one. The file is untrusted
on the way in: read with a size bound and checked; one that is not a token is
replaced, with one log line that does not quote it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mrtd.core.files import read_at_most, write_atomically
from mrtd.inputs.web.config import new_token

log = logging.getLogger("mrtd")

FILE_NAME = "web-token"
MAX_BYTES = 256  # a token is 16 characters; anything much bigger is not one of ours
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # what new_token makes, and a hand-set one of sane length


def token_path(state_dir: str | Path) -> Path:
    return Path(state_dir).expanduser() / FILE_NAME


def read_token(state_dir: str | Path) -> str | None:
    """The kept token; None when there is none or it is not a token (logged once, without its content)."""
    path = token_path(state_dir)
    try:
        data = read_at_most(path, MAX_BYTES)
    except OSError as exc:
        log.warning("web token %s unreadable (%s); making a new one", path, exc.strerror or exc)
        return None
    if data is None:
        return None
    text = data.decode("ascii", "replace").strip()
    if len(data) > MAX_BYTES or not TOKEN.fullmatch(text):
        log.warning("web token %s is not a token (%s); making a new one, so the tablet needs the new URL",
                    path, f"over {MAX_BYTES} bytes" if len(data) > MAX_BYTES else "wrong characters or length")
        return None
    return text


def write_token(state_dir: str | Path, token: str | None = None) -> str:
    """Keep `token` (default: a new one) in the state folder, mode 0600, atomically; OSError if it cannot."""
    token = token or new_token()
    write_atomically(token_path(state_dir), token + "\n")  # mkstemp makes it 0600, the rename keeps that
    return token


def kept_token(state_dir: str | Path) -> str:
    """The token to serve with: the kept one, or a new one kept from now on. A folder that cannot be
    written gives a fresh token for this run (logged): the page must not stop the music."""
    token = read_token(state_dir)
    if token is not None:
        return token
    try:
        return write_token(state_dir)
    except OSError as exc:
        log.error("web token not kept in %s (%s): it changes at every start", state_dir, exc.strerror or exc)
        return new_token()
