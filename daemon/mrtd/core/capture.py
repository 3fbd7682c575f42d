"""A capture: every command the session applied, with its frame, in a file a replay plays again.

`mrtd run --capture PATH` writes it; `mrtd render --replay PATH` reads it. JSON lines:

    {"format": "mrtd-capture", "version": 1, "mrtd": "0.1.0", "engine": "synth", "model": null,
     "seed": 7, "style_embedder": "builtin", "style_identity": "...", "wall_start": 1767225600.0,
     "lead_frames": 3, "ducks": true}
    {"frame": 0, "command": "InstallScene", "prepared": {"scene": {...}}, "reload": false, ...}
    {"frame": 31, "command": "SetParam", "name": "temperature", "value": 0.7}
    {"frame": 50, "origin": "timeline", "command": "FireCue", "index": 1}
    {"frame": 1250, "end": "stopped"}

A command is written by its declared (dataclass) fields, read back by the one registry of
kinds below, each field checked against its declared type; an embedding is base64 of its
float32s, a prepared scene its YAML text (within the scene loader's own limit), its prompt
embeddings and its PCA arrays. `origin` is left out for the command queue's (most of them).

Writing: the generation thread only appends (frame, command, origin) to a bounded buffer
(`listen`); the writer thread (a `Worker`) encodes and writes what is there every frame
(40 ms), whole lines with one `write` each batch, so a kill -9 leaves every complete record
and at most one partial line, which a reader ignores. The file is created new (O_EXCL, never
over anything), and bounded: when the next record would pass `max_bytes` it writes an end
record saying so, logs one error, and stops; the music goes on.

Reading: untrusted (a file from a bug report, edited by hand): bounded in size, line length
and records, every field checked; anything unknown or malformed is refused with one
`CaptureError` naming the file and line, quoting nothing of it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import math
import os
import types
import typing
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np
from pydantic import ValidationError

from mrtd import __version__
from mrtd.audio.wavfile import PeriodicSync, create_new
from mrtd.conditioning import EMBEDDING_DIM
from mrtd.control import commands as c
from mrtd.control.state import ORIGINS, QUEUE, Applicable
from mrtd.control.transport import ArmTransportSkip, TransportReset
from mrtd.core.engines import SwapEngine
from mrtd.core.music import MusicState, Resume
from mrtd.core.scenes import FireCue, GoCue, InstallScene
from mrtd.engines import ENGINE_NAMES
from mrtd.core.scene.loader import SceneError, parse_scene
from mrtd.core.scene.player import PreparedScene
from mrtd.lifecycle import Worker
from mrtd.style.pca import MAX_COMPONENTS, PCAFile
from mrtd.yamlcheck import MAX_BYTES as MAX_SCENE_BYTES

log = logging.getLogger(__name__)

FORMAT = "mrtd-capture"
VERSION = 1
DEFAULT_MAX_MB = 500.0  # a few hours of a busy set (a 10-minute session with a scene: a few MB)
MAX_MB = 2000.0  # the most `capture_max_mb` may ask for: what a replay will read
# The longest line: a scene at the loader's limit, with 64 prompts' embeddings and a PCA file of
# six components and a few thousand centroids, in base64. Lines are read this far and no further.
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_RECORDS = 20_000_000  # a replay holds them all: about 2 KB each at most, as decoded commands
MAX_CENTROIDS = 4096
MAX_PATH_CHARS = 4096
MAX_FRAME = 25 * 86_400 * 366  # a year of frames
BUFFER_RECORDS = 65_536  # applied but not yet written (the writer empties it every 40 ms)
WRITE_EVERY_S = 0.04  # the writer writes what was applied about once a frame
END_ROOM = 128  # bytes kept for the end record when the file reaches its bound
END_REASONS = ("stopped", "full", "lost", "failed")

# The one registry: every command a capture may hold, by its class name. A command that changes
# the music must be here (tests/test_capture.py holds that); Quantized (it schedules another,
# which is recorded) changes nothing itself and never reaches a capture.
KINDS: dict[str, type[c.Command]] = {cls.__name__: cls for cls in (
    c.SetParam, c.Glide, c.Toggle, c.NoteOn, c.NoteOff, c.NotesClear, c.Reset, c.Rest, c.DefinePrompt,
    c.PromptReady, c.ClearPrompt, c.SetWeight, c.SetMix, c.SetAxis, c.SetXY, c.SetStyleTokens,
    c.SetStyleEmbedding, c.AlignBeat, InstallScene, GoCue, FireCue, Resume, SwapEngine, TransportReset,
    ArmTransportSkip)}
_RESERVED = {"frame", "origin", "command", "end"}  # the record's own keys: no field may take one
assert not any(_RESERVED & {f.name for f in dataclasses.fields(cls)} for cls in KINDS.values())  # type: ignore[arg-type]


class CaptureError(ValueError):
    """A capture that cannot be written or read, in one line that quotes nothing of the file."""


# -- the header ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureHeader:
    """What the session started with: the engine, model and seed it played, the style embedder
    its prompts were encoded with, when frame 0 was made, and how the output handled a reset."""

    engine: str
    model: str | None
    seed: int
    style_embedder: str  # "musiccoca" or "builtin"
    style_identity: str  # the embedder's identity: stored embeddings are used only where it matches
    wall_start: float  # epoch seconds when frame 0 was made (it is heard `lead_frames` later)
    lead_frames: int
    ducks: bool  # a reset asked for now faded in after the output ducked (live) rather than across
    mrtd: str = __version__

    def line(self) -> bytes:
        return _line({"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)})

    @classmethod
    def of(cls, entry: object) -> "CaptureHeader":
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            raise _Bad("not an mrtd capture (no header)")
        if entry.get("version") != VERSION:
            raise _Bad(f"a capture of another version; this mrtd reads version {VERSION}")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(entry) - known - {"format", "version"}:
            raise _Bad("the header has a field this mrtd does not know")
        hints = typing.get_type_hints(cls)
        values = {name: _decode(entry.get(name), hints[name], f"header {name}") for name in known}
        header = cls(**values)
        if header.engine not in ENGINE_NAMES or header.engine == "auto":
            raise _Bad("the header names no engine mrtd has")
        if not 0 <= header.seed < 2**31 or not 1 <= header.lead_frames <= 1000:
            raise _Bad("the header's seed or lead is out of range")
        if max(len(header.style_identity), len(header.style_embedder), len(header.model or ""), len(header.mrtd)) > 200:
            raise _Bad("a header field is too long")
        return header


# -- commands to JSON and back -----------------------------------------------------------------
class _Bad(ValueError):
    """What is wrong with one line (the reader adds the file and line)."""


def record_line(frame: int, command: Applicable, origin: str) -> bytes:
    """One applied command as a line of the file."""
    kind = type(command).__name__
    if KINDS.get(kind) is not type(command):
        raise CaptureError(f"{kind} is not a command a capture holds")
    entry: dict[str, Any] = {"frame": frame}
    if origin != QUEUE:
        entry["origin"] = origin
    entry["command"] = kind
    for item in dataclasses.fields(command):  # type: ignore[arg-type]
        entry[item.name] = _encode(getattr(command, item.name))
    return _line(entry)


def end_line(frame: int, reason: str) -> bytes:
    return _line({"frame": frame, "end": reason})


def _line(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def _floats(array: np.ndarray) -> dict[str, str]:
    return {"f32": base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")}


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _floats(value)
    if isinstance(value, PreparedScene):
        pca = None if value.pca is None else {"components": _encode(value.pca.components),
                                              "centroids": _encode(value.pca.centroids)}
        return {"scene": {"path": str(value.path), "text": value.text, "embeddings": _encode(value.embeddings),
                          "pca": pca}}
    if isinstance(value, MusicState):
        return {"music": value.model_dump(mode="json")}
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {"map": {str(key): _encode(item) for key, item in value.items()}}
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise CaptureError(f"a {type(value).__name__} cannot be written to a capture")


def _tagged(value: object, tag: str, where: str) -> Any:
    if not isinstance(value, dict) or set(value) != {tag}:
        raise _Bad(f"{where}: not what the command holds there")
    return value[tag]


_EMBEDDING_CHARS = 4 * -(-EMBEDDING_DIM * 4 // 3)  # base64 of 768 float32s


def _embedding(value: object, where: str) -> np.ndarray:
    text = _tagged(value, "f32", where)
    if not isinstance(text, str) or len(text) != _EMBEDDING_CHARS:
        raise _Bad(f"{where}: an embedding is {EMBEDDING_DIM} float32s in base64")
    try:
        array = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float32)
    except (binascii.Error, ValueError):
        raise _Bad(f"{where}: an embedding is {EMBEDDING_DIM} float32s in base64") from None
    if array.shape != (EMBEDDING_DIM,) or not np.all(np.isfinite(array)):
        raise _Bad(f"{where}: an embedding is {EMBEDDING_DIM} finite float32s")
    return array


def _embeddings(value: object, where: str, limit: int) -> dict[str, np.ndarray]:
    names = _tagged(value, "map", where)
    if not isinstance(names, dict) or len(names) > limit:
        raise _Bad(f"{where}: at most {limit} embeddings by name")
    return {name: _embedding(item, where) for name, item in names.items()}


def _scene(value: object, where: str) -> PreparedScene:
    entry = _tagged(value, "scene", where)
    if not isinstance(entry, dict) or set(entry) != {"path", "text", "embeddings", "pca"}:
        raise _Bad(f"{where}: a scene is its path, text, embeddings and PCA")
    path, text = entry["path"], entry["text"]
    if not isinstance(path, str) or not 0 < len(path) <= MAX_PATH_CHARS or "\x00" in path:
        raise _Bad(f"{where}: the scene's path is not a path")
    if not isinstance(text, str) or len(text.encode("utf-8")) > MAX_SCENE_BYTES:
        raise _Bad(f"{where}: the scene's text is over {MAX_SCENE_BYTES} bytes")
    try:
        scene = parse_scene(text, Path(path).name)
    except SceneError as exc:
        raise _Bad(f"{where}: its scene does not validate ({len(exc.errors)} error(s))") from None
    from mrtd.control.state import MAX_PROMPTS

    embeddings = _embeddings(entry["embeddings"], f"{where} embeddings", MAX_PROMPTS)
    if set(embeddings) != set(scene.prompts):
        raise _Bad(f"{where}: the scene's embeddings are not its prompts'")
    pca = None
    if entry["pca"] is not None:
        raw = entry["pca"]
        if not isinstance(raw, dict) or set(raw) != {"components", "centroids"} or not isinstance(raw["components"], list) \
                or not 1 <= len(raw["components"]) <= MAX_COMPONENTS:
            raise _Bad(f"{where}: a PCA is 1 to {MAX_COMPONENTS} components and its centroids")
        pca = PCAFile([_embedding(item, f"{where} pca") for item in raw["components"]],
                      _embeddings(raw["centroids"], f"{where} pca centroids", MAX_CENTROIDS))
    return PreparedScene(scene, Path(path), embeddings, pca, text)


def _music(value: object, where: str) -> MusicState:
    try:
        return MusicState.model_validate(_tagged(value, "music", where))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _Bad(f"{where}: {'.'.join(map(str, first['loc'])) or 'music'}: {first['msg'][:80]}") from None


_SCALARS: dict[Any, tuple[type, ...]] = {str: (str,), bool: (bool,), int: (int,), float: (int, float)}


def _decode(value: object, hint: Any, where: str) -> Any:
    """`value` as read from JSON, made into the declared type `hint`; _Bad if it is not one."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        exact = [a for a in options if a in _SCALARS and type(value) is a]  # 3 stays an int in `float | int | bool`
        for option in exact + [a for a in options if a not in exact]:
            try:
                return _decode(value, option, where)
            except _Bad:
                continue
        raise _Bad(f"{where}: not what the command holds there")
    if hint in _SCALARS:
        if isinstance(value, bool) and hint is not bool or not isinstance(value, _SCALARS[hint]):
            raise _Bad(f"{where}: wants a {hint.__name__}")
        if hint is float:
            value = float(value)  # type: ignore[arg-type]
            if not math.isfinite(value):
                raise _Bad(f"{where}: wants a finite number")
        return value
    if hint is np.ndarray:
        return _embedding(value, where)
    if hint is PreparedScene:
        return _scene(value, where)
    if hint is MusicState:
        return _music(value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise _Bad(f"{where}: wants a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(item, args[0], where) for item in value)
        if len(value) != len(args):
            raise _Bad(f"{where}: wants {len(args)} values")
        return tuple(_decode(item, a, where) for item, a in zip(value, args))
    if origin is dict and args[1] is np.ndarray:
        from mrtd.control.state import MAX_PROMPTS

        return _embeddings(value, where, MAX_PROMPTS * 4)
    raise _Bad(f"{where}: a field of a type a capture does not hold")


def decode_record(entry: object) -> tuple[int, str, c.Command] | tuple[int, str, None]:
    """(frame, origin, command) from one parsed line; (frame, end reason, None) for the end record."""
    if not isinstance(entry, dict):
        raise _Bad("a record is a JSON object")
    frame = entry.get("frame")
    if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame <= MAX_FRAME:
        raise _Bad("a record's frame is a whole number from 0")
    if "end" in entry:
        if set(entry) != {"frame", "end"} or entry["end"] not in END_REASONS:
            raise _Bad("a malformed end record")
        return frame, entry["end"], None
    origin = entry.get("origin", QUEUE)
    if origin not in ORIGINS:
        raise _Bad("a record from no origin mrtd knows")
    kind = entry.get("command")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _Bad("a command this mrtd does not know")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = set(entry) - {"frame", "origin", "command"}
    if given - set(fields):
        raise _Bad(f"{cls.__name__}: a field it does not have")
    values = {}
    for name, item in fields.items():
        if name in entry:
            values[name] = _decode(entry[name], hints[name], f"{cls.__name__}.{name}")
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            raise _Bad(f"{cls.__name__}: {name} is missing")
    try:
        checked = getattr(cls, "checked", None)  # the checks an input makes, where the command has them
        command = checked(**values) if checked is not None else cls(**values)
    except (ValueError, TypeError, KeyError):  # its message may quote the value: it is not repeated
        raise _Bad(f"{cls.__name__}: a value its own checks refuse") from None
    return frame, origin, command


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capture:
    """A capture read back: its header, its commands in the order they applied, and where it ended."""

    path: Path
    header: CaptureHeader
    records: list[tuple[int, str, c.Command]]  # (frame, origin, command)
    end_frame: int  # the frame the session stopped on (an end record), else the last record's
    ended: str  # why it ended: "stopped", "full", "lost", "failed", or "" (killed: no end record)
    partial_line: bool  # a last line cut short (a kill mid-write) was left out


def read_capture(path: str | Path) -> Capture:
    """The capture at `path`, checked whole; CaptureError (file and line, nothing quoted) otherwise."""
    path = Path(path)
    limit = int(MAX_MB * 1e6) + MAX_LINE_BYTES
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not (info.st_mode & 0o170000 == 0o100000):
            raise CaptureError(f"{path}: not a regular file")
        if info.st_size > limit:
            raise CaptureError(f"{path}: {info.st_size} bytes, over the {limit} a capture may be")
        return _read_lines(path, file)


def _read_lines(path: Path, file: Any) -> Capture:
    header: CaptureHeader | None = None
    records: list[tuple[int, str, c.Command]] = []
    number, last_frame, ended, partial = 0, 0, "", False
    while True:
        line = file.readline(MAX_LINE_BYTES + 1)
        if not line:
            break
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise CaptureError(f"{path}:{number}: a line over {MAX_LINE_BYTES} bytes")
        if not line.endswith(b"\n"):  # the last line, cut short by a kill: every complete one counts
            partial = True
            break
        if ended:
            raise CaptureError(f"{path}:{number}: a record after the end record")
        try:
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                raise _Bad("not a line of JSON") from None
            if header is None:
                header = CaptureHeader.of(entry)
                continue
            frame, origin, command = decode_record(entry)
            if frame < last_frame:
                raise _Bad("a record before the one above it (frames only move on)")
        except _Bad as exc:
            raise CaptureError(f"{path}:{number}: {exc}") from None
        last_frame = frame
        if command is None:
            ended = origin
            continue
        if len(records) >= MAX_RECORDS:
            raise CaptureError(f"{path}:{number}: more than {MAX_RECORDS} records")
        records.append((frame, origin, command))
    if header is None:
        raise CaptureError(f"{path}: empty, or not an mrtd capture")
    return Capture(path, header, records, last_frame, ended, partial)


# -- writing ------------------------------------------------------------------------------------
class CaptureWriter:
    """Writes the commands a session applies to a new file (see the module's docstring)."""

    def __init__(self, path: str | Path, max_bytes: int = int(DEFAULT_MAX_MB * 1e6)) -> None:
        """Create the file now (CaptureError if anything is there: a capture is never written over)."""
        self.path = Path(path)
        self.max_bytes = max_bytes
        try:
            self._fd: int | None = create_new(self.path)
        except FileExistsError:
            raise CaptureError(f"{self.path} exists: a capture is never written over (choose a new name)") from None
        except OSError as exc:
            raise CaptureError(f"cannot create the capture {self.path}: {exc.strerror or exc}") from None
        self._sync = PeriodicSync(self._fd)  # a power cut loses at most SYNC_EVERY_S of the capture
        self._buffer: deque[tuple[int, Applicable, str]] = deque()
        self._taking = True  # False once full, failed or lost: the generation thread stops appending
        self.records = 0  # commands written
        self.bytes = 0
        self.state = "open"  # open | writing | full | lost | failed | stopped
        self._last_frame = 0
        self._worker = Worker("mrtd-capture", self._run)

    def begin(self, header: CaptureHeader) -> None:
        """Write the header and start the writer (before the session's first command applies)."""
        self._write(header.line())
        self.state = "writing"
        self._worker.start()

    def listen(self, frame: int, command: Applicable, origin: str) -> None:
        """Generation thread (the control state's listener): note one applied command. Appends to
        the buffer and nothing else; a buffer the writer cannot empty in time loses the capture
        (not the music): the writer then ends the file saying so."""
        if not self._taking:
            return
        if len(self._buffer) >= BUFFER_RECORDS:
            self._taking = False
            return
        self._buffer.append((frame, command, origin))

    def stop(self, frames: int) -> None:
        """Write what is left and end the file at `frames` (the frames the session made). A capture
        that never began (a start that failed before the music) leaves no empty file behind to
        refuse the next start: the one it created is removed, if it is still the one there."""
        self._worker.stop()
        self._drain()
        if self._fd is None:
            return
        if self.state == "writing":
            self._end(max(frames, self._last_frame), "stopped")
        elif self.state == "open":
            try:
                if os.path.samestat(os.fstat(self._fd), os.lstat(self.path)):
                    os.unlink(self.path)
            except OSError:
                pass  # gone or replaced already: nothing of ours to remove
        os.close(self._fd)
        self._fd = None

    def status(self) -> dict[str, Any]:
        return {"capture": str(self.path), "capture_records": self.records, "capture_state": self.state}

    def _run(self) -> None:
        while not self._worker.stopping.wait(WRITE_EVERY_S):
            self._drain()
            self._put_on_disk(self._sync.due)

    def _drain(self) -> None:
        lines: list[bytes] = []
        size = self.bytes
        buffer = self._buffer
        while buffer and self.state == "writing":
            frame, command, origin = buffer.popleft()
            try:
                line = record_line(frame, command, origin)
            except (CaptureError, ValueError, TypeError) as exc:  # a value JSON cannot hold (NaN): say so, stop
                self._give_up(lines, frame, "failed", f"a {type(command).__name__} command could not be written ({exc})")
                return
            if size + len(line) + END_ROOM > self.max_bytes or len(line) > MAX_LINE_BYTES:
                self._give_up(lines, frame, "full", f"it reached capture_max_mb ({self.max_bytes / 1e6:g} MB)")
                return
            lines.append(line)
            size += len(line)
            self._last_frame = frame
        if not self._taking and self.state == "writing" and not buffer:
            self._give_up(lines, self._last_frame, "lost",
                          f"its writer fell more than {BUFFER_RECORDS} commands behind")
            return
        self._write(b"".join(lines), len(lines))

    def _give_up(self, lines: list[bytes], frame: int, reason: str, why: str) -> None:
        """End the file here (after `lines`), once: the music goes on without a capture."""
        self._taking = False
        self._buffer.clear()
        self._write(b"".join(lines), len(lines))
        self._end(frame, reason)
        log.error("capture %s stopped on frame %d: %s; the music goes on", self.path, frame, why)

    def _end(self, frame: int, reason: str) -> None:
        self._write(end_line(frame, reason))
        if self.state != "failed":
            self.state = reason
        self._put_on_disk(self._sync.now)

    def _put_on_disk(self, sync: Callable[[], None]) -> None:
        if self._fd is None or self.state == "failed":
            return
        try:
            sync()
        except OSError as exc:  # the disk refused what the system held: as a refused write
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self._taking = False
        self._buffer.clear()
        if self.state != "failed":
            self.state = "failed"
            log.error("capture %s stopped: %s; the music goes on", self.path, exc.strerror or exc)

    def _write(self, data: bytes, records: int = 0) -> None:
        if not data or self._fd is None:
            return
        try:
            view = memoryview(data)
            while view:  # one write a batch: whole lines, so a kill leaves at most one partial
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self._fail(exc)
            return
        self.bytes += len(data)
        self.records += records

