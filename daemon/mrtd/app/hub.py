"""The model hub the official tool downloads from: what a folder of the repository holds, and its files.

The official `mrt models init` / `mrt models download NAME` fetch `resources/musiccoca`,
`resources/spectrostream` and `models/NAME` from the Hugging Face repository
`google/magenta-realtime-2` with `huggingface_hub`; so does this module, with the same
client (the `models` extra, imported only here and only when asked). The client honours
`HF_TOKEN`, `HF_ENDPOINT`, `HF_HOME`/`HF_HUB_CACHE` and `HF_HUB_OFFLINE` itself; files go
into its cache first (resumable: a broken transfer continues where it stopped, at the next
try or the next install) and the caller links or copies them into the asset folder.

Unlike the official tool, the listing asks for every file's size and hash in one call
(the model info API with `blobs`), pinned to one commit, so the caller can check what
arrived against what the hub says, and every file comes from the same revision.
Every failure is a HubError with one line that says what failed and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ID = "google/magenta-realtime-2"
EXTRA_NAME = "models"
INSTALL_HINT = f'pip install "mrtd[{EXTRA_NAME}]" (huggingface_hub)'
OFFLINE_HINT = "without internet, install from a copy: mrtd models install NAME --from DIR"
API_TIMEOUT_S = 10.0  # the listing call; a black-holed network gives up here, not after minutes


class HubError(RuntimeError):
    """The hub could not be asked or could not give a file; the message is one line for the user."""


@dataclass(frozen=True)
class HubFile:
    """One file of the repository, as the hub describes it."""

    path: str  # repository-relative: models/mrt2_small/mrt2_small.mlxfn
    size: int | None
    sha256: str | None  # LFS files: the content's sha256
    git_sha1: str | None  # every file: its git blob id (sha1 of "blob <size>\\0" + content)


@dataclass(frozen=True)
class Listing:
    """The files under one repository folder, at one commit."""

    repo: str
    revision: str  # the commit every file is fetched at
    files: tuple[HubFile, ...]


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as error:
        raise HubError(f"downloading models needs huggingface_hub, which is not installed: {INSTALL_HINT}; "
                       f"{OFFLINE_HINT}") from error
    return huggingface_hub


def endpoint() -> str:
    """Where the hub is: $HF_ENDPOINT, else huggingface.co (read now, not at import, so a test can set it)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"


def _one_line(error: BaseException, what: str) -> HubError:
    """The hub client's error as one line: offline, not found, not allowed, or the client's own first line."""
    hub = _hub()
    errors = getattr(hub, "errors", None)
    name = type(error).__name__
    status = getattr(getattr(error, "response", None), "status_code", None)
    offline_types = tuple(t for t in (getattr(errors, "OfflineModeIsEnabled", None),
                                       getattr(errors, "LocalEntryNotFoundError", None)) if t is not None)
    if isinstance(error, offline_types) or "Connect" in name or "Timeout" in name:
        reason = str(error).splitlines()[0][:160] if str(error) else name
        return HubError(f"{what}: cannot reach {endpoint()} ({reason}); {OFFLINE_HINT}")
    if status in (401, 403):
        return HubError(f"{what}: the hub refused access (HTTP {status}); set HF_TOKEN to a token that may read "
                        f"{REPO_ID} (accept its terms on the hub first)")
    if status == 404:
        return HubError(f"{what}: not on the hub (HTTP 404 at {endpoint()})")
    first = str(error).splitlines()[0][:200] if str(error) else name
    return HubError(f"{what}: {name}: {first}")


def list_folder(folder: str, revision: str | None = None) -> Listing:
    """Every file under `folder/` in the repository, with sizes and hashes, at one commit."""
    hub = _hub()
    what = f"listing {REPO_ID}/{folder}"
    try:
        info = hub.HfApi(endpoint=endpoint()).model_info(REPO_ID, revision=revision, files_metadata=True,
                                                          timeout=API_TIMEOUT_S)
    except Exception as error:  # the client raises many kinds; each becomes one line
        raise _one_line(error, what) from error
    prefix = folder.rstrip("/") + "/"
    files = tuple(
        HubFile(s.rfilename, s.size, s.lfs.sha256 if s.lfs is not None else None, s.blob_id)
        for s in (info.siblings or []) if s.rfilename.startswith(prefix)
    )
    if not files:
        raise HubError(f"{what}: no such folder on the hub at {endpoint()}")
    return Listing(REPO_ID, info.sha or revision or "main", files)


def list_models(revision: str | None = None) -> list[str]:
    """The model folders the hub's `models/` holds (their names, as the official repository spells them)."""
    hub = _hub()
    try:
        info = hub.HfApi(endpoint=endpoint()).model_info(REPO_ID, revision=revision, timeout=API_TIMEOUT_S)
    except Exception as error:
        raise _one_line(error, f"listing {REPO_ID}/models") from error
    names = {s.rfilename.split("/")[1] for s in (info.siblings or [])
             if s.rfilename.startswith("models/") and s.rfilename.count("/") >= 2}
    return sorted(names)


def fetch(listing: Listing, file: HubFile) -> Path:
    """The file, downloaded into the hub's cache (or found there): the path of its cached copy.

    The client shows its own progress bar, resumes a partial download (by HTTP Range) and
    retries a broken transfer a few times before it gives up."""
    hub = _hub()
    try:
        return Path(hub.hf_hub_download(listing.repo, file.path, revision=listing.revision, endpoint=endpoint()))
    except Exception as error:
        raise _one_line(error, f"downloading {file.path}") from error


def forget(path: Path) -> None:
    """Drop a cached file that failed its check, so the next install fetches it again."""
    try:
        real = path.resolve()
        path.unlink(missing_ok=True)
        if real != path:
            real.unlink(missing_ok=True)
    except OSError:
        pass
