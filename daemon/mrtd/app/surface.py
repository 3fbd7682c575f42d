"""What the inputs may ask of the daemon (the OSC table's `Host`), and nothing more: wiring.

Each request goes to the core controller of its domain (core/: commands and prompts, scenes and
cues, the engine, recording), which holds the logic; what is left here is the daemon's own
(status, the snapshot, the OSC guard, subscriptions). Inputs run on their own threads: everything
here submits a command, hands work to a worker thread, or reads an immutable snapshot the
generation thread published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from mrtd.app import official_buffer
from mrtd.control import commands as c
from mrtd.vocabulary import replies as r
from mrtd.inputs.osc.table import Answer, Reply

if TYPE_CHECKING:
    from mrtd.core.commands import CommandGate
    from mrtd.core.engines import EngineRequests
    from mrtd.core.recording import RecordingController
    from mrtd.core.banks import StateBanks
    from mrtd.core.scenes import SceneShown
    from mrtd.control.state import Controls
    from mrtd.feedback.push import Pusher
    from mrtd.inputs.osc.dialect import Dialects
    from mrtd.inputs.osc.admission import ReplyGuard


@runtime_checkable
class Scenes(Protocol):
    """What an input may ask of the scenes (`SceneHost` is the one there is): loads and cues go
    to its worker or the command queue; what it reads is published by the generation thread."""

    def load_named(self, name: str, due: float | None = None, answer: Answer | None = None) -> None: ...
    def cue(self, which: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: Answer | None = None) -> None: ...
    def from_osc(self, address: str, args: list[Any], due: float | None) -> bool: ...
    def shown(self) -> "SceneShown | None": ...


@dataclass(frozen=True)
class Services:
    """The parts of the daemon an input may reach, and nothing else (the composition root fills it).

    Callables stand for what changes while the daemon runs: the published snapshot is
    replaced every frame, the OSC guard exists only once OSC has started."""

    controls: "Controls"  # read the frame and the values commands meet (commands go through `commands`)
    commands: "CommandGate"  # core: every command, checked, admitted and queued; prompts defined
    pusher: "Pusher"
    scenes: Scenes
    learn: Callable[[str, str], None]  # MIDI learn: the next control moved maps to (kind, name)
    recording: "RecordingController"  # core: takes into the recordings folder
    engine: "EngineRequests"  # core: a model by name, a prefill
    dialects: "Dialects"
    status: Callable[[], dict[str, Any]]
    snapshot: Callable[[], dict[str, list[Any]]]
    guard: Callable[[], "ReplyGuard | None"]
    state_banks: Callable[[], "StateBanks | None"] = lambda: None  # the state banks, once the engine plays


class Surface:
    def __init__(self, services: Services) -> None:
        self._services = services

    # -- commands (core/commands.py) ------------------------------------------------
    def submit(self, command: c.Command, due: float | None, answer: Answer | None = None,
               account: str | None = None) -> list[Reply] | None:
        return self._services.commands.submit(command, due, answer, account)

    def define_prompt(self, name: str, text: str, weight: float | None, due: float | None) -> None:
        self._services.commands.define_prompt(name, text, weight, due)

    # -- replies -----------------------------------------------------------------
    def status(self) -> list[Reply]:
        return [r.Status.of(self._services.status()).message()]

    def sync(self) -> list[Reply]:
        state: list[Reply] = []
        for address, args in self._services.snapshot().items():
            state += r.in_datagrams(address, args)  # a long prompt list in parts: each fits a datagram
        return state + [r.Synced(len(state)).message()]  # so a client knows it has everything

    def hello(self, sender: tuple[str, int], cookie: int | None) -> list[Reply]:
        guard = self._services.guard()
        if guard is None:
            return []
        if cookie is None:
            return [r.Hello(guard.cookie(sender[0])).message()]
        guard.check_cookie(sender[0], cookie)
        return [r.HelloOk().message()]

    def subscribe(self, host: str, port: int) -> None:
        self._services.pusher.subscribe(host, port)

    def unsubscribe(self, host: str, port: int) -> None:
        self._services.pusher.unsubscribe(host, port)

    # -- scenes (core/scenes.py) ---------------------------------------------------
    def scene_load(self, name: str, due: float | None, answer: Answer | None = None) -> None:
        self._services.scenes.load_named(name, due, answer)

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: Answer | None = None) -> None:
        self._services.scenes.cue(name, due, when, answer)

    def learn(self, kind: str, name: str) -> None:
        self._services.learn(kind, name)

    def mapped(self, address: str, args: list[Any], due: float | None) -> bool:
        return self._services.scenes.from_osc(address, args, due)

    def dialects(self) -> "Dialects":
        return self._services.dialects

    # -- the model (core/engines.py) -----------------------------------------------
    def prefill(self, name: str | None) -> None:
        self._services.engine.prefill_named(name)

    def prefill_tokens(self, name: str) -> None:
        self._services.engine.prefill_tokens_named(name)

    def tokens_save(self, name: str) -> str:
        return self._services.engine.save_tokens_named(name)

    def model(self, name: str, answer: Answer | None = None) -> None:
        self._services.engine.model(name, answer)

    def buffer_size(self, samples: int) -> list[Reply]:
        """The official `buffersize` as the margin it holds (app/official_buffer.py); mrtd's margin
        is set when it starts, so the reply says whether it is the one running."""
        margin = official_buffer.margin_ms_for(samples)
        running = self._services.status().get("margin_set_ms")
        applies = "now" if running is not None and abs(float(running) - margin) < 0.05 else \
            f"at start: --latency {official_buffer.latency_for(margin)}"
        return [r.BufferSize(official_buffer.official_samples(samples), official_buffer.latency_for(margin),
                             round(margin), applies).message()]

    # -- state banks (core/banks.py) ------------------------------------------------------
    def _banks(self) -> "StateBanks":
        banks = self._services.state_banks()
        if banks is None:
            raise ValueError("the state banks are not ready: no engine plays yet")
        return banks

    def state_save(self, bank: int) -> None:
        self._banks().save(bank)

    def state_load(self, bank: int) -> None:
        self._banks().load(bank)  # a load that fails once the copy is made is logged (the music plays on)

    def state_factory(self) -> None:
        self._banks().factory()

    # -- recording (core/recording.py) ---------------------------------------------
    def record_start(self, name: str | None) -> str:
        return self._services.recording.start(name)

    def record_stop(self) -> str | None:
        return self._services.recording.stop()
