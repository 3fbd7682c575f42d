"""State banks and the engine's journaled state: the model's music saved, loaded, back to factory.

As the official plugin (magenta-realtime examples/mrt2/auv3/MagentaRT_AudioUnit.mm `saveBank`,
`loadBank`, README "The bank panel"; core/src/mlx_engine.cpp `save_state`, `load_state`,
`reset_to_factory`): a save dumps the live state into bank N's file and changes nothing of
what plays; factory returns to the model's own initial state. The plugin's load writes the
file into the reset target and waits for the player's Reset; mrtd's load plays it at once, on
a standby copy of the engine crossfaded in as a model swap is (the music never stops), and a
later reset returns to the loaded state's checkpoint. The plugin has three banks
(`bankFilePathAU(0..2)`, `bank_<N>.safetensors`); mrtd has `MAX_BANKS`.

Banks live in the state folder (`banks/bank-N.safetensors`); without one, every bank request
is refused in one line. The state is captured on the generation thread at a frame boundary (a
command, `SaveBank`, so it is the state between two frames; a cheap copy) and written by this
module's worker thread (converted, bounded, atomically: core/files.py). The same worker keeps
the journal's engine state (`engine-state.safetensors`) every `interval_s` when asked, which a
restart continues from (`continue_saved`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from mrtd.control.commands import Command
from mrtd.control.state import ControlState
from mrtd.core.engines import EngineController
from mrtd.core.files import write_atomically
from mrtd.engine import Engine
from mrtd.engines import BaseEngine
from mrtd.engines import state as engine_state
from mrtd.engines.state import StateCapture, StateError
from mrtd.lifecycle import Worker, spawn

log = logging.getLogger(__name__)

# 16: one per pad of a 4x4 controller, which players map banks to (the official plugin has
# three); bounded so the banks folder holds at most 16 states (an mrt2 state is its KV cache,
# tens of MB for mrt2_small), never a folder a stray sender can fill.
MAX_BANKS = 16
BANKS_FOLDER = "banks"
ENGINE_STATE_FILE = "engine-state.safetensors"
LAST_CAPTURE_WAIT_S = 0.5  # at stop: the longest the last capture of the engine's state is waited for
MAX_PENDING_WRITES = 4  # captures waiting for the writer: more are refused (each holds a whole state)
FACTORY = 0  # SwapEngine.bank for "back to factory"


class BankError(ValueError):
    """A bank request that cannot be done; the message says why in one line."""


def bank_path(state_dir: Path, bank: int) -> Path:
    return state_dir / BANKS_FOLDER / f"bank-{bank}.safetensors"


def check_bank(bank: int) -> int:
    if not 1 <= bank <= MAX_BANKS:
        raise BankError(f"bank {bank} is not one of 1-{MAX_BANKS}")
    return bank


@dataclass(frozen=True)
class SaveBank(Command):
    """Capture the engine's state between two frames into bank `bank` (written by the banks' worker)."""

    bank: int
    recorded: ClassVar[bool] = False  # it changes no music, and a replay must never write the player's banks

    def apply(self, state: ControlState) -> None:
        host = state.hosts.get(StateBanks)
        if isinstance(host, StateBanks):
            host.capture_into(bank_path(host.folder(), self.bank), f"bank {self.bank}")


@dataclass(frozen=True)
class KeepEngineState(Command):
    """The journal's engine state, captured between two frames (written by the banks' worker)."""

    recorded: ClassVar[bool] = False

    def apply(self, state: ControlState) -> None:
        host = state.hosts.get(StateBanks)
        if isinstance(host, StateBanks):
            host.capture_into(host.folder() / ENGINE_STATE_FILE, "the journal's engine state")


class StateBanks:
    """The banks (save, load, factory) and the journal's engine state, for a live session.
    `interval_s`: how often the engine's state is journaled (0: never)."""

    def __init__(self, control: ControlState, state_dir: str | Path | None, engines: EngineController,
                 interval_s: float = 0.0, clock=time.monotonic) -> None:
        control.hosts[StateBanks] = self
        self._control = control
        self._dir = Path(state_dir) if state_dir is not None else None
        self._engines = engines
        self.interval_s = interval_s
        self._clock = clock
        self._writes: queue.Queue[tuple[Path, StateCapture, str] | None] = queue.Queue(MAX_PENDING_WRITES)
        self._worker = Worker("mrtd-state-writer", self._run, wake=self._wake)
        self.written = 0  # files written (tests, status)
        self._kept = threading.Event()  # the journal's engine state was captured (what stop waits for)
        self.failing = ""  # why the last write failed, logged once

    def folder(self) -> Path:
        if self._dir is None:
            raise BankError("no state folder: start mrtd with --state-dir (or the config's state_dir) to keep banks")
        return self._dir

    # -- requests (any thread) --------------------------------------------------------------
    def save(self, bank: int) -> Path:
        """Have bank `bank` saved at the next frame boundary; the file it will be."""
        path = bank_path(self.folder(), check_bank(bank))
        self._playing().state_fingerprint()  # an engine that cannot save says so now, to the sender
        self._control.submit(SaveBank(bank))
        return path

    def load(self, bank: int) -> Future:
        """Load bank `bank` into a standby copy of the playing engine and crossfade to it."""
        path = bank_path(self.folder(), check_bank(bank))
        playing = self._playing()
        if not path.is_file():
            raise BankError(f"bank {bank} is empty (no {path.name} in {path.parent})")
        if path.stat().st_size > playing.state_limit_bytes():
            raise BankError(f"bank {bank}: {path.name} is larger than any {playing.name} state")

        def fill(engine: BaseEngine) -> None:  # the loading thread
            state, digest = engine_state.read_with_digest(path, engine.state_limit_bytes())
            engine.load_state(state)
            engine.loaded_bank, engine.loaded_bank_digest = bank, digest  # the capture keeps which save it was
            log.info("bank %d loaded into %s (frame %d of the saved music)", bank, engine.describe(), engine.frames_made)

        return self._engines.swap(playing.name, playing.model_name or None, prepare=fill,
                                  backend=playing.backend or None)

    def factory(self) -> Future:
        """Back to the model's own initial state: a fresh copy of the playing engine, crossfaded in
        (the official `reset_to_factory`: the reset target and the live state both to factory)."""
        self.folder()  # as the other bank requests: refused without a state folder
        playing = self._playing()

        def fresh(engine: BaseEngine) -> None:
            engine.loaded_bank = FACTORY

        return self._engines.swap(playing.name, playing.model_name or None, prepare=fresh,
                                  backend=playing.backend or None)

    def load_for_cue(self, bank: int | str, cue: str) -> None:
        """Generation thread: a scene cue's `state: N` (or `factory`). Only asks: the checks (the
        bank's file is looked at) and the load run on a thread of their own, as /mrt/state/load's
        do on the input's, so the frame reads no file. A bank that cannot load says so in one line
        and the music goes on."""

        def ask() -> None:
            try:
                self.factory() if bank == "factory" else self.load(int(bank))
            except BankError as exc:
                log.warning("cue %s: bank %s not loaded: %s; the music goes on", cue, bank, exc)

        spawn("mrtd-bank-cue", ask)

    def _playing(self) -> BaseEngine:
        playing = self._engines.playing
        if playing is None:
            raise BankError("no engine plays yet")
        return playing

    # -- the generation thread ----------------------------------------------------------------
    def capture_into(self, path: Path, what: str) -> None:
        """Generation thread: a cheap copy of the playing engine's state, for the worker to write."""
        playing = self._engines.playing
        if playing is None:
            return
        try:
            capture = playing.capture_state()
            self._writes.put_nowait((path, capture, what))
            if path.name == ENGINE_STATE_FILE:
                self._kept.set()
        except StateError as exc:
            log.warning("%s not saved: %s", what, exc)
        except queue.Full:
            log.warning("%s not saved: %d states are waiting to be written already", what, MAX_PENDING_WRITES)

    # -- the worker -----------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        """Stop the writer. With a journal, the engine's state as it is now is captured first (the
        generation thread still runs: it stops after this), so a clean stop (a reboot, a `systemctl
        restart`) continues from its last frame, not from up to `interval_s` before."""
        if self.interval_s > 0 and self._dir is not None:
            self._kept.clear()
            self._control.submit(KeepEngineState())
            self._kept.wait(LAST_CAPTURE_WAIT_S)  # a frame boundary comes within a frame
        self._worker.stop()
        self.write_pending()

    def _wake(self) -> None:
        try:
            self._writes.put_nowait(None)  # unblocks the worker's wait; it then sees the stop flag
        except queue.Full:
            pass  # it has writes to do, and then sees the flag

    def _run(self) -> None:
        stopping = self._worker.stopping
        next_keep = self._clock() + self.interval_s
        while not stopping.is_set():
            if self.interval_s > 0 and self._dir is not None and self._clock() >= next_keep:
                self._control.submit(KeepEngineState())
                next_keep = self._clock() + self.interval_s
            timeout = max(0.05, next_keep - self._clock()) if self.interval_s > 0 else 1.0
            try:
                item = self._writes.get(timeout=timeout)
            except queue.Empty:
                continue
            if item is not None:
                self._write(*item)

    def write_pending(self) -> None:
        """Write what is waiting (at stop, or a test's step)."""
        while True:
            try:
                item = self._writes.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._write(*item)

    def _write(self, path: Path, capture: StateCapture, what: str) -> None:
        try:
            data = engine_state.to_bytes(capture())
            write_atomically(path, data)
        except (OSError, StateError) as exc:  # a full disk must not stop the music: said once
            why = str(getattr(exc, "strerror", None) or exc)
            if why != self.failing:
                log.error("%s not written to %s: %s", what, path, why)
            self.failing = why
            return
        self.failing = ""
        self.written += 1
        log.log(logging.DEBUG if path.name == ENGINE_STATE_FILE else logging.INFO, "%s saved to %s", what, path)

    # -- a restart ----------------------------------------------------------------------------
    def continue_saved(self, engine: BaseEngine) -> bool:
        """Before the music starts: continue `engine` from the journal's engine state, if there is one
        that fits (else log why and start fresh). True when it continues."""
        if self._dir is None:
            return False
        path = self._dir / ENGINE_STATE_FILE
        if not path.is_file():
            return False
        try:
            engine.load_state(engine_state.read(path, engine.state_limit_bytes()))
        except StateError as exc:
            log.warning("journal: the engine's state %s not used: %s; the engine starts fresh", path, exc)
            return False
        log.info("journal: %s continues the saved music from %s (frame %d)", engine.describe(), path, engine.frames_made)
        return True


def replay_bank(state_dir: str | Path | None) -> Callable[[Engine, int, str | None], None]:
    """A replay's bank loads (SwapEngine.bank): the bank's file from `state_dir` when it is there,
    fits the engine and is the save the session loaded (`digest`, when the capture has it: a bank
    saved over since would replay other music, silently); else the replay says so and goes on
    with the fresh engine."""

    def load(engine: Engine, bank: int, digest: str | None = None) -> None:
        if bank == FACTORY:
            return  # a fresh engine is the factory state
        if not isinstance(engine, BaseEngine) or state_dir is None:
            log.warning("replay: bank %d not loaded (no state folder); the engine starts fresh", bank)
            return
        path = bank_path(Path(state_dir), bank)
        try:
            state, now = engine_state.read_with_digest(path, engine.state_limit_bytes())
            if digest is not None and now != digest:
                raise StateError(f"{path.name} was saved over since the session loaded it")
            engine.load_state(state)
        except StateError as exc:
            log.warning("replay: bank %d not loaded (%s); the engine starts fresh", bank, exc)

    return load
