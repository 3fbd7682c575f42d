"""`mrtd render`: play a scene, or a captured session, offline, as fast as the engine allows.

The same session as a live run, built by the same function (core/session.py): the control
state and its command schedule, the style space, the scene host that installs the scene and
applies its timeline, and the generator. What is left out is only what paces a live run: the
ring, the playout and the device clock. Frame k is simply the k-th frame made, so a render is
deterministic for a scene, seed and engine, and sample for sample what a live run with no live
input makes (tests/test_render_live.py).

`--replay` plays a capture (`mrtd run --capture`): the commands the live session applied, each
on its frame, so with the capture's engine it makes what was made live, sample for sample,
and with another engine the same performance played by it (tests/test_capture_replay.py).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from datetime import date

    import numpy as np

from mrtd.app.render_progress import ProgressBar, StopRequest
from mrtd.app.style_choice import StyleChoice, choose_style
from mrtd.audio.wavfile import GrowingWav, create_new
from mrtd.control.state import ControlState
from mrtd.core.banks import replay_bank
from mrtd.core.capture import read_capture
from mrtd.core.session import Session, build_session
from mrtd.engine import Engine
from mrtd.engines import BaseEngine, create_engine
from mrtd.frame import CHANNELS, FRAME_SECONDS, FRAMES_PER_SECOND
from mrtd.core.scene.loader import load_scene, referenced_file
from mrtd.core.scene.player import ScenePlayer
from mrtd.runtime.generator import Generator
from mrtd.style.cache import CachedEmbedder, EmbeddingCache

log = logging.getLogger(__name__)

TAIL_S = 4.0  # after the last cue's fade (a replay: its last command, when it has no end), so it is heard to the end
# A render longer than this is made only when asked for with --seconds: a scene's own length can
# be a day (a scene on the clock, a gallery loop), and a day of 48 kHz stereo is 16.6 GB.
UNASKED_LIMIT_S = 3600.0
WAV_HEADER_BYTES = 44


class TooLong(ValueError):
    """A render that would be longer than an hour without --seconds: nothing has been written."""

    def __init__(self, seconds: float, what: str = "this scene") -> None:
        self.seconds = seconds
        self.bytes = wav_bytes(seconds)
        super().__init__(
            f"{what} runs {seconds:.0f} s ({seconds / 3600:.1f} h): the WAV would be {self.bytes:,} bytes "
            f"({self.bytes / 1e9:.1f} GB). Nothing was written; ask for it with --seconds {seconds:.0f} "
            f"(or a shorter --seconds N)")


class OutputRefused(ValueError):
    """`-o` names something render must not write: nothing has been written or truncated."""


def input_files(scene_path: Path) -> list[Path]:
    """The files a render reads: the scene, its PCA file and its audio prompts (SceneError if invalid)."""
    scene = load_scene(scene_path, audio_folders=(scene_path.parent,))
    names = [scene.pca] if scene.pca else []
    names += [str(prompt.audio) for prompt in scene.prompts.values() if prompt.audio is not None]
    found = [scene_path]
    for name in names:
        try:
            found.append(referenced_file(scene_path, name, (scene_path.parent,)))
        except ValueError:
            continue  # the load refuses it, with its own error
    return found


def check_output(out_path: Path, inputs: list[Path], overwrite: bool) -> None:
    """OutputRefused unless `out_path` may be written: a new name, or with `overwrite` a plain file
    that is none of the render's inputs. A symlink is refused even with `overwrite` (it would write
    wherever it points), and so is any input, hard links to one included (same device and inode):
    `mrtd render s.yaml -o s.yaml` would otherwise truncate the scene it is reading."""
    try:
        info = os.lstat(out_path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise OutputRefused(f"{out_path} is a symlink: render writes only a file of its own (name the file itself)")
    for source in inputs:
        try:
            if os.path.samestat(info, os.stat(source)):
                raise OutputRefused(f"{out_path} is {source}, which this render reads: choose another output")
        except FileNotFoundError:
            continue
    if not stat.S_ISREG(info.st_mode):
        raise OutputRefused(f"{out_path} exists and is not a plain file")
    if not overwrite:
        raise OutputRefused(f"{out_path} exists: nothing was written (--overwrite replaces it, or choose a new name)")


def create_output(out_path: Path, inputs: list[Path], overwrite: bool) -> int:
    """A new file at `out_path` (the descriptor), as a live recording makes one: O_EXCL|O_NOFOLLOW
    (wavfile.create_new), so nothing that appeared since the check is opened or truncated. With
    `overwrite`, the plain file there is unlinked first (never written through)."""
    check_output(out_path, inputs, overwrite)
    if overwrite:
        try:
            os.unlink(out_path)
        except FileNotFoundError:
            pass
    try:
        return create_new(out_path)
    except FileExistsError:
        raise OutputRefused(f"{out_path} appeared while rendering: nothing was written over it") from None


def wav_bytes(seconds: float) -> int:
    """The size of a 16-bit stereo 48 kHz WAV of `seconds`, as `render_scene` writes it."""
    return WAV_HEADER_BYTES + max(1, round(seconds * FRAMES_PER_SECOND)) * round(FRAME_SECONDS * 48_000) * CHANNELS * 2


@dataclass(frozen=True)
class Rendered:
    frames: int
    cues_fired: list[tuple[int, str]]  # (frame, cue)
    peak: float
    interrupted: bool = False  # stopped by SIGINT/SIGTERM: the WAV holds the frames made so far
    engine: str = ""


def default_seconds(player: ScenePlayer, state: ControlState) -> float:
    scene = player.scene
    if scene.on_the_clock or scene.hours is not None:
        return 86_400.0  # a day: every cue once
    if scene.loop and scene.length:
        return scene.length
    ends = [
        at + player.fade_seconds(cue, state)
        for cue in scene.cues
        if (at := player.cue_seconds(cue, state)) is not None
    ]
    return (max(ends) if ends else 0.0) + TAIL_S


def render_scene(scene_path: str | Path, out_path: str | Path, seconds: float | None = None, seed: int = 0,
                 engine_name: str = "synth", cache_dir: str | None = None, progress: bool | None = None,
                 model: str | None = None, musiccoca_folder: str | None = None, start: float | None = None,
                 overwrite: bool = False, backend: str = "auto") -> Rendered:
    """Render to a WAV. `progress`: draw a bar on stderr (None: only when it is a terminal).
    SIGINT/SIGTERM stop it between frames, leaving a valid WAV of what was made.

    `start`: the wall-clock time (epoch seconds) the render's first frame is heard at, for a
    scene on the clock (default: now); frame k is heard at start + k * 40 ms, so a render from
    a given start is deterministic. Without `seconds`, a scene longer than UNASKED_LIMIT_S is
    refused (TooLong) before anything is written.

    `out_path` must be a new name (OutputRefused otherwise, before any work); `overwrite` lets it
    replace a plain file that is not one of the render's own inputs, never a symlink. `backend`: what
    steps mrt2 (mlx | jax | auto, engines/backends.py)."""
    import time

    begin = time.time() if start is None else start
    scene_path, out_path = Path(scene_path), Path(out_path)
    inputs = input_files(scene_path)
    check_output(out_path, inputs, overwrite)  # refused before the engine warms up
    style = choose_style(musiccoca_folder)  # the same pair a live run picks: MusicCoCa where installed
    session = build_session(style.new_space(), CachedEmbedder(style.embedder, EmbeddingCache(cache_dir)), seed=seed,
                            scene_dir=str(scene_path.parent), audio_dir=str(scene_path.parent),
                            publish=lambda messages: log.error("%s", messages),
                            wall_at=lambda frame: begin + frame * FRAME_SECONDS)
    session.scenes.load(scene_path)  # SceneError when invalid; installs on frame 0, as live
    generator = _offline(session, _engine(engine_name, model, seed, style, backend))
    frame = generator.next_frame()  # frame 0 installs the scene (and its tempo)
    player = session.scenes.player
    assert player is not None, "the scene installs on frame 0"
    length = seconds if seconds is not None else default_seconds(player, session.control)
    return _write(generator, frame, length, seconds is None, out_path, inputs, overwrite, progress, session)


def render_replay(capture_path: str | Path, out_path: str | Path, seconds: float | None = None,
                  engine_name: str | None = None, model: str | None = None, seed: int | None = None,
                  cache_dir: str | None = None, progress: bool | None = None, musiccoca_folder: str | None = None,
                  overwrite: bool = False, watch: "Callable[[Generator[ControlState, Engine]], None] | None" = None,
                  backend: str = "auto", state_dir: str | Path | None = None) -> Rendered:
    """Render the session captured at `capture_path` (`mrtd run --capture`) to a WAV: its commands,
    each applied on the frame it applied live. The engine, model and seed are the capture's unless
    given; an engine given plays throughout (the capture's engine swaps are not played). Without
    `seconds`, up to where the session stopped (or, cut short, its last command and a tail).
    CaptureError for a capture that cannot be read, before anything is written. `watch`: called
    after each frame with the generator (its engine included), e.g. to read mrt2's tokens.
    `state_dir`: the banks the session's bank loads are loaded from again (None: fresh engines)."""
    capture_path, out_path = Path(capture_path), Path(out_path)
    capture = read_capture(capture_path)
    check_output(out_path, [capture_path], overwrite)
    header = capture.header
    name = engine_name or header.engine
    model = model if model is not None else (header.model if name == header.engine else None)
    seed = header.seed if seed is None else seed
    style = choose_style(musiccoca_folder)
    # A scene on the clock is installed where its recorded time says; the wall clock a replay
    # keeps (status lines, nothing that moves the music) runs from the capture's start.
    session = build_session(style.new_space(), CachedEmbedder(style.embedder, EmbeddingCache(cache_dir)), seed=seed,
                            publish=lambda messages: log.error("%s", messages),
                            wall_at=lambda frame: header.wall_start + (frame + header.lead_frames) * FRAME_SECONDS)
    generator = _offline(session, _engine(name, model, seed, style, backend))
    generator.ducks_ahead = header.ducks  # a reset asked for now fades in as it did live
    session.replay(capture, (lambda swap_name, swap_model: _engine(swap_name, swap_model, seed, style, backend))
                   if engine_name is None else None, replay_bank(state_dir) if state_dir is not None else None)
    if seconds is not None:
        length = seconds
    elif capture.ended:
        length = capture.end_frame * FRAME_SECONDS
    else:  # killed: no end record
        length = capture.end_frame * FRAME_SECONDS + TAIL_S
        log.info("replay: %s has no end record (the session was killed?); rendering to its last command and %g s",
                 capture_path, TAIL_S)
    return _write(generator, generator.next_frame(), length, seconds is None, out_path, [capture_path], overwrite,
                  progress, session, what="this capture", watch=watch)


def _engine(name: str, model: str | None, seed: int, style: StyleChoice, backend: str = "auto") -> BaseEngine:
    engine = create_engine(name, seed=seed, model=model, backend=backend)
    log.info("render: %s, style %s", engine.describe(), style.describe())
    if engine.name == "mrt2" and style.mrt2_warning():
        log.warning("%s", style.mrt2_warning())
    engine.reset()  # the seed takes effect at reset (mrt2 rotates its RNG key then); live, warm-up does this
    return engine


def _offline(session: Session, engine: Engine) -> "Generator[ControlState, Engine]":
    generator = session.play(engine)
    generator.lateness.warn = False  # offline: a slow step is no gap ("behind real time" would send the user to render)
    return generator


def _write(generator: "Generator[ControlState, Engine]", frame: "np.ndarray", length: float, unasked: bool,
           out_path: Path, inputs: list[Path], overwrite: bool, progress: bool | None, session: Session,
           what: str = "this scene", watch: "Callable[[Generator[ControlState, Engine]], None] | None" = None) -> Rendered:
    """Write `length` seconds of frames, `frame` (the first) and those after, to a new WAV at
    `out_path`; SIGINT/SIGTERM stop it between frames, leaving a valid WAV of what was made.
    Longer than UNASKED_LIMIT_S when not asked for (`unasked`): TooLong, nothing written."""
    engine = generator.engine
    if unasked and length > UNASKED_LIMIT_S:
        engine.close()
        raise TooLong(length, what)
    total = max(1, round(length * FRAMES_PER_SECOND))
    peak = 0.0
    made = 0
    fd = create_output(out_path, inputs, overwrite)
    wav = GrowingWav(fd)  # the header follows the data, so an interrupted or killed render is valid too
    with StopRequest() as stop:
        bar = ProgressBar(total, enabled=progress)
        try:
            for index in range(total):
                if index:
                    if stop.requested.is_set():
                        break
                    frame = generator.next_frame()
                if watch is not None:
                    watch(generator)
                peak = max(peak, float(abs(frame).max()))
                wav.write(frame)
                made += 1
                bar.update(made)
        finally:
            wav.close()
            bar.finish()  # also gives the log its stream back
    generator.engine.close()
    player = session.scenes.player
    return Rendered(made, list(player.fired) if player is not None else [], peak, made < total,
                    generator.engine.describe())


def start_time(text: str, scene_path: str | Path, today: "date | None" = None) -> float:
    """`--start`: "13:59:55" (that time today in the scene's zone) or an ISO date and time (one
    without an offset is in the scene's zone), as epoch seconds; ValueError otherwise."""
    from datetime import date, datetime

    from mrtd.core.scene.loader import load_scene
    from mrtd.core.scene.wallclock import instant_of, parse_clock_time, zone

    tz = zone(load_scene(scene_path).timezone)
    seconds = parse_clock_time(text.strip())
    if seconds is not None:
        day = today or datetime.now(tz).date()
        return instant_of(day, seconds, tz)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'--start wants "HH:MM[:SS]" or an ISO date and time such as 2026-03-29T01:59:00, not {text[:40]!r}') from None
    return (when if when.tzinfo is not None else when.replace(tzinfo=tz)).timestamp()
