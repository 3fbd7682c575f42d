"""A loopback HTTP server that speaks the part of the Hugging Face Hub's protocol `huggingface_hub` uses
to list a repository and download its files (read from huggingface_hub 2.x's hf_api.py and file_download.py):

- `GET /api/models/<repo>[/revision/<rev>]?blobs=true`: the model info, `sha` (the commit) and
  `siblings` with `rfilename`, `size`, `blobId` and, for LFS files, `lfs: {size, sha256, pointerSize}`;
- `HEAD /<repo>/resolve/<rev>/<path>`: `X-Repo-Commit`, `ETag` and `X-Linked-Etag` (the sha256, as the
  hub gives for LFS files), `X-Linked-Size`, `Content-Length`;
- `GET` of the same URL, honouring `Range: bytes=N-` with 206 and `Content-Range` (resume).

Faults, per file: `break_once` sends the headers for the whole file, half the bytes, and closes the
connection (the client resumes with a Range request; huggingface_hub reads 10 MiB chunks, so only a
file over 10 MiB has bytes on disk to resume from); with `down_after_break` the file then answers 503
until the test clears `unavailable`; `lie_sha256` lists a hash the bytes do not have.
Every request is recorded (method, path, Range), so a test can see a resume happen.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubState:
    repo: str
    files: dict[str, bytes]  # repository path -> content
    break_once: set[str] = field(default_factory=set)
    lie_sha256: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)  # GET answers 503
    down_after_break: bool = False  # after a break, the file is unavailable until the test clears it
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range header)


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet: pytest shows failures, not every request
        pass

    def _state(self) -> HubState:
        return self.server.state

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"", send_body: bool = True) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _route(self, send_body: bool) -> None:
        state = self._state()
        path = unquote(urlsplit(self.path).path)
        state.requests.append((self.command, path, self.headers.get("Range", "")))
        api = f"/api/models/{state.repo}"
        if path == api or path.startswith(api + "/revision/"):
            siblings = []
            for name, data in sorted(state.files.items()):
                digest = "0" * 64 if name in state.lie_sha256 else sha256(data)
                siblings.append({"rfilename": name, "size": len(data), "blobId": git_sha1(data),
                                 "lfs": {"size": len(data), "sha256": digest, "pointerSize": 134}})
            body = json.dumps({"id": state.repo, "sha": COMMIT, "siblings": siblings}).encode()
            self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body, send_body)
            return
        prefix = f"/{state.repo}/resolve/"
        if not path.startswith(prefix):
            self._send(404, {"Content-Length": "0", "X-Error-Code": "EntryNotFound"})
            return
        _revision, _, name = path[len(prefix):].partition("/")
        data = state.files.get(name)
        if data is None:
            self._send(404, {"Content-Length": "0", "X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
            return
        etag = f'"{"0" * 64 if name in state.lie_sha256 else sha256(data)}"'
        headers = {"X-Repo-Commit": COMMIT, "ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(len(data)),
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[len("bytes="):-1])
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        status = 200
        if start:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if not send_body:
            self._send(status, headers, send_body=False)
            return
        if name in state.unavailable:
            self._send(503, {"Content-Length": "0", "X-Repo-Commit": COMMIT})
            return
        if name in state.break_once:
            state.break_once.discard(name)
            if state.down_after_break:
                state.unavailable.add(name)
            self._send(status, headers, body[: len(body) // 2])
            self.wfile.flush()
            # A stalled link, then a drop: the half that was sent reaches the client before the close,
            # as on a real network (sent with the close, the client's HTTP parser drops it).
            self.server.stall.wait(0.3)
            self.close_connection = True
            return
        self._send(status, headers, body)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def do_GET(self) -> None:
        self._route(send_body=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState
    stall = threading.Event()  # never set: the break's stall is a bounded wait


class LoopbackHub:
    """`with LoopbackHub(repo, files) as hub:` then point HF_ENDPOINT at `hub.url`."""

    def __init__(self, state: HubState) -> None:
        self.state = state
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = state
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-hub", daemon=True)

    def __enter__(self) -> "LoopbackHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def gets(self, name: str) -> list[str]:
        """The Range headers of every GET of one file (empty string: from the start)."""
        return [rng for method, path, rng in self.state.requests if method == "GET" and path.endswith("/" + name)]


def files_from(folder: Path, repo_folder: str) -> dict[str, bytes]:
    """Every file of a local folder, as repository paths under `repo_folder`."""
    return {f"{repo_folder}/{p.relative_to(folder).as_posix()}": p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
