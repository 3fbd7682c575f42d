"""The engine as a session sees it: which one plays, and a swap to another.

Live, `EngineController` chooses, warms and judges the engine at start and loads another
(/mrt/model, /mrt/prefill, the fallback after faults) off the generation thread; the
generator takes it over at a frame boundary and tells the control state's listener, which a
capture writes down as `SwapEngine` on that frame. A replay applies it on the same frame:
the `EngineSwitch` makes the engine there and then (nothing is live, so nothing waits) and
the generator takes it over in the same frame, with the same crossfade.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mrtd.control.commands import Command
from mrtd.control.state import ControlState, Controls
from mrtd.control.transport import ArmTransportSkip
from mrtd.conditioning import Conditioning
from mrtd.core.paths import inside
from mrtd.core.engine_choice import choose_live_engine, source_words, verdict_word
from mrtd.engine import Engine
from mrtd.engines import ENGINE_NAMES, BaseEngine, create_engine, mrt2
from mrtd.engines.mrt2 import ENCODER_INPUT_SAMPLES, MAX_TOKEN_PREFILL_FRAMES, RVQ_LEVELS, RVQ_VOCAB, ModelError, Mrt2Engine
from mrtd.audio.wavfile import create_new
from mrtd.frame import FRAME_SECONDS, SAMPLE_RATE
from mrtd.lifecycle import spawn
from mrtd.runtime.generator import Generator
from mrtd.style.audio_prompt import AudioNeeds, probe_audio_file
from mrtd.style.audio_reader import read_audio_isolated
from mrtd.vocabulary.codec import Answer
from mrtd.vocabulary.replies import Error
from mrtd.vocabulary.requests import Model

log = logging.getLogger(__name__)

# What a prefill reads of an audio file: the encoder's 28 s, 48 kHz stereo; the reader stops there.
PREFILL_AUDIO_NEEDS = AudioNeeds(ENCODER_INPUT_SAMPLES / SAMPLE_RATE, channels=2, rate=SAMPLE_RATE)

# A tokens file (/mrt/prefill/tokens): int32 [frames, 12] as `np.save` writes it; its header is
# under 4 KB, so anything larger holds more than MAX_TOKEN_PREFILL_FRAMES and is refused unread.
MAX_TOKEN_FILE_BYTES = 4096 + MAX_TOKEN_PREFILL_FRAMES * RVQ_LEVELS * 4


def write_tokens(path: Path, tokens: np.ndarray) -> None:
    """Write `tokens` (int32 [frames, 12]) as a new .npy at `path` and put it on the disk; a
    failure is logged in one line (the music goes on)."""
    try:
        with os.fdopen(create_new(path), "wb") as file:
            np.save(file, tokens, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        log.error("tokens out: %s not written: %s", path.name, exc.strerror or exc)
        return
    log.info("tokens out: %d frames (%.1f s) saved to %s", len(tokens), len(tokens) * FRAME_SECONDS, path)


def read_prefill_tokens(path: Path) -> np.ndarray:
    """The raw audio tokens a prefill teacher-forces (what Mrt2Engine.last_tokens gave, saved with
    `np.save`): int32 [frames, 12], 0-1023, 1 to MAX_TOKEN_PREFILL_FRAMES frames; the size is
    checked before reading, and nothing but a plain array is read (no pickles). ValueError in one line."""
    shape = f"int32 [frames, {RVQ_LEVELS}] with 1-{MAX_TOKEN_PREFILL_FRAMES} frames"
    try:
        size = path.stat().st_size
        if size > MAX_TOKEN_FILE_BYTES:
            raise ValueError(f"{path.name} is {size} bytes, more than {shape} ({MAX_TOKEN_FILE_BYTES} bytes at most)")
        tokens = np.load(path, allow_pickle=False)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path.name} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        if str(exc).startswith(path.name):
            raise
        raise ValueError(f"{path.name} is not a .npy array of tokens ({str(exc)[:80]})") from None
    if not isinstance(tokens, np.ndarray) or tokens.dtype != np.int32 or tokens.ndim != 2 \
            or tokens.shape[1] != RVQ_LEVELS or not 1 <= tokens.shape[0] <= MAX_TOKEN_PREFILL_FRAMES:
        got = f"{tokens.dtype} {list(tokens.shape)}" if isinstance(tokens, np.ndarray) else type(tokens).__name__
        raise ValueError(f"{path.name} holds {got}; prefill tokens are {shape}")
    if tokens.min() < 0 or tokens.max() >= RVQ_VOCAB:
        raise ValueError(f"{path.name}: prefill tokens are 0-{RVQ_VOCAB - 1}")
    return tokens


MakeEngine = Callable[[str, "str | None"], Engine]  # (engine name, model) -> a ready engine


def model_of(engine: Engine) -> str | None:
    """The model an engine plays (mrt2's), None for one without (the synth)."""
    model = getattr(engine, "model", None)
    return model if isinstance(model, str) else None


@dataclass(frozen=True)
class SwapEngine(Command):
    """The generator took engine `name` (`model`) over on this frame, crossfading over
    `crossfade_frames` (0: at once, a fallback). `prefilled`: its context was filled from audio
    first (/mrt/prefill), which a replay cannot do again: it swaps to a fresh engine, and says so.
    `bank`: the state bank loaded into it (/mrt/state/load N; 0: /mrt/state/factory), which a
    replay loads again from its state folder when the file is there (core/banks.py)."""

    name: str
    model: str | None = None
    crossfade_frames: int = 4
    prefilled: bool = False
    bank: int | None = None
    bank_digest: str | None = None  # which save of the bank (a replay refuses one saved over since)

    def apply(self, state: ControlState) -> None:
        switch = state.hosts.get(EngineSwitch)
        if not isinstance(switch, EngineSwitch):
            raise ValueError("an engine swap is applied only by a replay (live, the engine loader swaps)")
        switch.swap(self)


class EngineSwitch:
    """A replay's engine swaps: `make` builds the engine a capture swapped to, `take` hands it to
    the generator (its `swap_engine`, which starts the crossfade in the frame being made)."""

    def __init__(self, state: ControlState, make: MakeEngine, take: Callable[[Engine, int], object],
                 load_bank: Callable[[Engine, int, str | None], None] | None = None) -> None:
        """`load_bank`: puts a bank's state into the engine made (core/banks.py `replay_bank`)."""
        state.hosts[EngineSwitch] = self  # what SwapEngine applies to
        self._state = state
        self._make = make
        self._take = take
        self._load_bank = load_bank

    def swap(self, command: SwapEngine) -> None:
        if command.name not in ENGINE_NAMES:
            raise ValueError(f"no engine {command.name[:40]!r}")
        if command.prefilled:
            log.warning("the %s engine swapped in on frame %d was prefilled from audio live; "
                        "the replay swaps to a fresh one", command.name, self._state.frame)
        engine = self._make(command.name, command.model)
        if command.bank and self._load_bank is not None:
            self._load_bank(engine, command.bank, command.bank_digest)
        elif command.bank:
            log.warning("the %s engine swapped in on frame %d loaded bank %d live; the replay has no state "
                        "folder to load it from, and swaps to a fresh one", command.name, self._state.frame, command.bank)
        self._take(engine, max(0, command.crossfade_frames))


@dataclass(frozen=True)
class EngineSettings:
    """What a live session asks of its engine (the daemon's config, in its words)."""

    name: str = "auto"  # auto | synth | mrt2
    model: str | None = None
    seed: int = 0
    keep_warm: bool = False
    allow_slow: bool = False  # play a model live even when its warm-up step exceeds the frame budget
    margin_s: float | None = None  # audio kept ahead beyond a step (the latency preset's); None: the default
    fallback: str | None = "synth"  # when the chosen model cannot load, or fails `fault_limit` frames in a row
    fault_limit: int = 3
    backend: str = "auto"  # what steps mrt2: mlx | jax | auto (engines/backends.py)


class EngineController:
    """A live session's engine: chosen, warmed and judged at `start`; swapped for another (a model,
    a prefill, the fallback after faults) loaded off the generation thread while the music plays.
    `on_swapped` runs once a swap has taken over (the daemon warns of mrt2 without MusicCoCa)."""

    def __init__(self, settings: EngineSettings, engine: BaseEngine | None = None,
                 on_swapped: Callable[[], None] = lambda: None) -> None:
        """`engine`: a ready-made one (tests), warmed at start instead of one built by name."""
        self.settings = settings
        self.engine = engine  # the one last chosen (the generator's once it plays)
        self.note = ""  # why the engine plays although slow, or why auto did not pick the model
        self.error = ""  # why the configured engine is not the one playing
        self.last_error_at: float | None = None  # monotonic time of the last engine fault
        self.generator: Generator[Any, BaseEngine] | None = None
        self._on_swapped = on_swapped

    @property
    def playing(self) -> BaseEngine | None:
        """The engine the generator steps now (after a swap, the new one), else the one chosen."""
        return self.generator.engine if self.generator is not None else self.engine

    def start(self) -> BaseEngine:
        """Warm the engine asked for (or the fallback when its model cannot load), judge it for live
        play (a too-slow model: TooSlowError, or the synth for `auto`), log what plays; the engine."""
        settings = self.settings
        try:
            if self.engine is None:
                self.engine = self.warm(settings.name, settings.model)
            else:
                self.engine.warm_up()
        except ModelError as exc:
            if not settings.fallback:
                raise
            log.error("engine %s unavailable: %s; falling back to %s", settings.name, exc, settings.fallback)
            self.error = str(exc)
            self.last_error_at = time.monotonic()
            self.engine = self.warm(settings.fallback, None)
        self.engine, self.note = choose_live_engine(self.engine, settings.name, settings.allow_slow,
                                                    lambda: self.warm("synth", None), settings.margin_s)
        verdict = self.engine.verdict
        # The model, where it came from (random weights say so) and what the doctor would say of it.
        log.info("engine: %s, %s, %s (warm: %d steps, median %.2f ms, p99 %.2f ms per 40 ms frame, on %s)",
                 self.engine.describe(), source_words(self.engine), verdict_word(verdict) or "not measured",
                 verdict.steps if verdict else 0, verdict.p50_ms if verdict else 0.0,
                 verdict.p99_ms if verdict else 0.0, self.engine.hardware())
        return self.engine

    def drive(self, generator: "Generator[Any, BaseEngine]") -> None:
        """The generator stepping the engine: its faults come here (the fallback), swaps go to it."""
        self.generator = generator
        generator.on_fault = self.faulted

    def warm(self, name: str, model: str | None, backend: str | None = None) -> BaseEngine:
        """`backend`: mrt2's (None: the settings'), e.g. the playing one's for a prefill."""
        engine = create_engine(name, model=model, seed=self.settings.seed, keep_warm=self.settings.keep_warm,
                               backend=backend or self.settings.backend)
        try:
            if engine.verdict is None:  # backend auto measured both backends already
                engine.warm_up()
        except BaseException:
            engine.close()
            raise
        return engine

    def faulted(self, consecutive: int) -> None:
        """Generation thread: after `fault_limit` failed frames in a row, fall back (once)."""
        self.last_error_at = time.monotonic()  # a fault's path, never a good frame's: one float per failed frame
        fallback = self.settings.fallback
        if consecutive != self.settings.fault_limit or not fallback or self.generator is None:
            return
        if self.generator.engine.name == fallback:
            return  # the fallback itself is failing: keep concealing and resetting
        log.error("engine %s failed %d frames in a row; switching to %s", self.generator.engine.name, consecutive, fallback)
        self.error = self.generator.last_fault
        self.swap(fallback, None, crossfade_frames=0)

    def prefill(self, audio_path: Path | None) -> Future:
        """Warm a second copy of the playing mrt2 model, fill its context with `audio_path`
        (or silence), then crossfade to it. Everything heavy happens off the generation thread."""
        playing = self._prefillable("prefill")
        if audio_path is not None:
            probe_audio_file(audio_path)  # the header only: a file it cannot use is refused to the sender now

        def feed(engine: Mrt2Engine) -> int:
            audio = None
            if audio_path is not None:  # on the loading thread, decoded in the reader's process, 28 s at most
                audio, _rate = read_audio_isolated(audio_path, PREFILL_AUDIO_NEEDS)
            live = self._continue_live(engine, playing)
            return engine.prefill_from_audio(audio, live=live) if audio is not None else engine.prefill_silence(live=live)

        return self._prefill_aside(playing, feed, audio_path.name if audio_path else "silence")

    def prefill_tokens(self, tokens_path: Path) -> Future:
        """As `prefill`, teacher-forcing the raw tokens saved in `tokens_path` (the official
        lossless branch, Mrt2Engine.prefill_from_tokens). The file is small and bounded: read
        and checked here, so the sender hears at once what is wrong with it."""
        playing = self._prefillable("prefill from tokens")
        tokens = read_prefill_tokens(tokens_path)

        def feed(engine: Mrt2Engine) -> int:
            return engine.prefill_from_tokens(tokens, live=self._continue_live(engine, playing))

        return self._prefill_aside(playing, feed, f"the tokens of {tokens_path.name}")

    def _prefillable(self, what: str) -> Mrt2Engine:
        playing = self.generator.engine if self.generator else None
        if not isinstance(playing, Mrt2Engine):  # the jax backend's step takes no forced tokens (engines/mrt2_jax.py)
            raise ValueError(f"{what} needs the mrt2 engine on the mlx backend (the synth engine has no context to fill)")
        return playing

    def _continue_live(self, engine: Mrt2Engine, playing: Mrt2Engine) -> Conditioning | None:
        """The loading thread: `engine` takes the live engine's state (the official runner prefills
        the live engine), just before its fill; the conditioning it plays with now."""
        live = self.generator.last_conditioning if self.generator else None  # as it plays when the fill starts
        current = self.generator.engine if self.generator else playing
        engine.continue_from(current if isinstance(current, Mrt2Engine) else playing)  # start from its state
        return live

    def _prefill_aside(self, playing: Mrt2Engine, feed: Callable[[Mrt2Engine], int], what: str) -> Future:
        def fill(engine: BaseEngine) -> None:
            assert isinstance(engine, Mrt2Engine), "swap('mrt2') makes one"
            frames = feed(engine)
            log.info("prefilled %s with %s (%d frames)", engine.describe(), what, frames)

        return self.swap("mrt2", playing.model, prepare=fill, backend=playing.backend)

    def swap(self, name: str, model: str | None = None, crossfade_frames: int = 4,
             prepare: Callable[[BaseEngine], None] | None = None, backend: str | None = None) -> Future:
        """Load `name`/`model` off the generation thread, then crossfade to it; the audio never stops.
        `backend`: mrt2's backend (None: the settings').

        The future resolves to the new engine once the old one is closed, or to the
        loading error (the running engine then simply keeps playing).
        """
        result: Future = Future()
        settings = self.settings

        def load() -> None:
            try:
                engine = self.warm(name, model, backend)
                # Judged as at start: a model too slow for live play is refused (and closed)
                # unless allow_slow; no synth stands in, since the one playing already does.
                engine, note = choose_live_engine(engine, "swap", settings.allow_slow, make_synth=None,
                                                  margin_s=settings.margin_s)
                if prepare is not None:
                    prepare(engine)
            except Exception as exc:
                log.error("engine swap to %s %s failed: %s; keeping %s", name, model or "", exc,
                          self.engine.describe() if self.engine else "none")
                result.set_exception(exc)
                return
            assert self.generator is not None
            done = self.generator.swap_engine(engine, crossfade_frames)
            done.wait()
            self.engine = engine
            self.note = note
            self._on_swapped()
            result.set_result(engine)

        spawn("mrtd-engine-load", load)
        return result


class EngineRequests:
    """What an input may ask of the engine: a model by name, loaded beside the one playing, and a
    prefill from a file in the audio folder (or silence). Checked here, on the input's thread, so
    the sender hears at once what cannot be; the loading runs off it (`EngineController`)."""

    def __init__(self, engines: EngineController, controls: Controls, audio_dir: str) -> None:
        self._engines = engines
        self._controls = controls
        self.audio_dir = audio_dir

    def prefill(self, audio_path: Path | None) -> Future:
        """Prefill aside and crossfade to it (EngineController.prefill); as the official runner,
        a prefill that succeeded skips the next transport reset (control/transport.py)."""
        return self._skipping_reset(self._engines.prefill(audio_path))

    def prefill_tokens_named(self, name: str) -> Future:
        """Prefill from the tokens in `name` (a .npy in the audio folder), as `prefill` does."""
        path = inside(self.audio_dir, name)
        try:
            found = path.is_file()
        except OSError:  # a name the file system cannot hold names no file either
            found = False
        if not found:
            raise ValueError(f"no tokens file {name!r} in {self.audio_dir}")
        return self._skipping_reset(self._engines.prefill_tokens(path))

    def save_tokens_named(self, name: str) -> str:
        """Tokens out: the raw audio tokens of the music made since it last started (at most the
        last 60 s), saved as `name`.npy in the audio folder, where /mrt/prefill/tokens reads them
        back (a lossless branch point). Checked here (ValueError in one line: another engine, a
        name taken, nothing made yet); the copy is taken now, the file written on a thread of its
        own: a new file, never written over."""
        playing = self._engines.playing
        if not isinstance(playing, Mrt2Engine):  # the synth makes no tokens; the jax step gives none out
            raise ValueError(f"tokens out needs the mrt2 engine on MLX; {playing.name if playing else 'nothing'} plays")
        file = name if name.endswith(".npy") else f"{name}.npy"
        path = inside(self.audio_dir, file)
        if not path.parent.is_dir():
            raise ValueError(f"no audio folder {self.audio_dir} to save tokens in")
        if path.exists() or path.is_symlink():
            raise ValueError(f"{file} is in the audio folder already: tokens are never written over (choose a new name)")
        tokens = playing.tokens_made()
        if not len(tokens):
            raise ValueError("no tokens made yet since the music last started")
        spawn("mrtd-tokens-out", write_tokens, path, tokens)
        return file

    def _skipping_reset(self, swapped: Future) -> Future:
        def arm_skip(done: Future) -> None:
            if done.exception() is None:
                self._controls.submit(ArmTransportSkip())

        swapped.add_done_callback(arm_skip)
        return swapped

    def prefill_named(self, name: str | None) -> None:
        """Prefill from `name` in the audio folder (None: silence)."""
        path = inside(self.audio_dir, name) if name else None
        try:
            found = path is None or path.is_file()
        except OSError:  # a name the file system cannot hold (ENAMETOOLONG) names no file either
            found = False
        if not found:
            raise ValueError(f"no audio file {name!r} in {self.audio_dir}")
        self.prefill(path)

    def model(self, name: str, answer: Answer | None = None) -> None:
        """Load `name` beside the running engine; a model that will not load (or cannot keep up)
        leaves the music as it is, and `answer` tells the sender why once loading has failed."""
        if not mrt2.assets_present(name):
            function_path, _ = mrt2.model_paths(name)
            raise ValueError(f"no model {name!r}: {function_path} is missing")
        loading = self._engines.swap("mrt2", name)
        if answer is None:
            return

        def refused(done: Future) -> None:
            if done.exception() is not None:
                answer([Error(Model.address, str(done.exception())).message()])

        loading.add_done_callback(refused)
