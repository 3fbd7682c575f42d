"""What the inputs may ask of the daemon (the OSC table's `Host`), and nothing more.

Inputs run on their own threads. Everything here either submits a command to
the control state, hands work to a worker thread, or reads an immutable
snapshot the generation thread published.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from mrtd.app import official_buffer
from mrtd.audio.outputs import LATENCY_PRESETS
from mrtd.core.paths import inside
from mrtd.audio.sinks import SinkError
from mrtd.audio.wavfile import check_name
from mrtd.inputs.scene.loader import SceneError
from mrtd.control import commands as c
from mrtd.control.state import MAX_PROMPTS, check_prompt_room
from mrtd.vocabulary import replies as r
from mrtd.inputs.osc.table import ROOT, Answer, Reply

if TYPE_CHECKING:
    from mrtd.core.banks import StateBanks
    from mrtd.core.scenes import SceneShown
    from mrtd.audio.recorder import Recorder
    from mrtd.control.state import Controls
    from mrtd.feedback.push import Pusher
    from mrtd.inputs.osc.dialect import Dialects
    from mrtd.inputs.scene.schema import Scene
    from mrtd.inputs.osc.admission import ReplyGuard
    from mrtd.style.encoder import EncoderWorker

log = logging.getLogger(__name__)

PENDING_S = 5.0  # how long a name defined here counts before the state shows it
# What a refused command queued behind a scene load is answered about.
SCENE_DEPENDENT = {c.SetMix: f"{ROOT}/mix", c.SetWeight: f"{ROOT}/weight", c.SetAxis: f"{ROOT}/axis", c.SetXY: f"{ROOT}/xy"}


@runtime_checkable
class Scenes(Protocol):
    """What an input may ask of the scenes (`SceneHost` is the one there is): loads and cues go
    to its worker or the command queue; what it reads is published by the generation thread."""

    def load_named(self, name: str, due: float | None = None, answer: Answer | None = None) -> None: ...
    def cue(self, which: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: Answer | None = None) -> None: ...
    def after_loads(self, submit: Callable[[], None], address: str, answer: Answer | None = None) -> None: ...
    def incoming(self) -> "Scene | None": ...
    def from_osc(self, address: str, args: list[Any], due: float | None) -> bool: ...
    def shown(self) -> "SceneShown | None": ...


@dataclass(frozen=True)
class Services:
    """The parts of the daemon an input may reach, and nothing else (the composition root fills it).

    Callables stand for what changes while the daemon runs: the published snapshot is
    replaced every frame, the OSC guard exists only once OSC has started."""

    controls: "Controls"  # submit commands; read the prompt names, axes, surface and limits they meet
    encoder: "EncoderWorker"  # prompts are embedded off every input thread
    pusher: "Pusher"
    scenes: Scenes
    learn: Callable[[str, str], None]  # MIDI learn: the next control moved maps to (kind, name)
    recorder: "Recorder"
    dialects: "Dialects"
    status: Callable[[], dict[str, Any]]
    snapshot: Callable[[], dict[str, list[Any]]]
    guard: Callable[[], "ReplyGuard | None"]
    prefill: Callable[[Path | None], Future]
    swap_engine: Callable[[str, str | None], Future]
    audio_dir: str
    record_dir: str
    state_banks: Callable[[], "StateBanks | None"] = lambda: None  # the state banks, once the engine plays


class Surface:
    def __init__(self, services: Services) -> None:
        self._services = services
        # Names this input defined that the generation thread may not have applied yet
        # (`/mrt/prompt a ...` then `/mrt/mix a 1` in one bundle).
        self._pending_names: dict[str, float] = {}

    # -- commands ----------------------------------------------------------------
    def submit(self, command: c.Command, due: float | None, answer: Answer | None = None,
               account: str | None = None) -> list[Reply] | None:
        """Check `command` against the state the sender sees, queue it, and say if a limit clamped it.

        `account`: the sender, whose share of the schedule it takes (None: the daemon's own).
        A command that names the scene's prompts, axes or surface waits behind a scene load in
        progress, so it meets that scene (its refusal then goes to `answer`)."""
        control = self._services.controls
        quantized = isinstance(command, c.Quantized)
        inner = command.inner if isinstance(command, c.Quantized) else command
        control.admit(due, account, safer=not quantized and command.safer(control.values),
                      grid=(command.unit, command.count) if isinstance(command, c.Quantized) else None)
        address = SCENE_DEPENDENT.get(type(inner))
        if address is not None:  # checked and queued now, or after the loads ahead of it
            self._services.scenes.after_loads(lambda: control.submit(self._checked(command), due, account), address, answer)
            return None
        command = self._checked(command)
        control.submit(command, due, account)
        return self._clamped(command)

    def _prompt_names(self) -> list[str]:
        names = self._services.controls.prompt_names()
        defined = set(names)
        now = time.monotonic()
        for name, stamp in list(self._pending_names.items()):
            if name in defined or now - stamp > PENDING_S:
                del self._pending_names[name]
            else:
                names.append(name)
        incoming = self._services.scenes.incoming()
        if incoming is not None:  # accepted, installing at the next frame: its prompts are met, in its order
            names = list(incoming.prompts) + [name for name in names if name not in incoming.prompts]
        return names

    def _checked(self, command: c.Command) -> c.Command:
        """Refuse what would change nothing or the wrong thing; turn slot numbers into names."""
        if isinstance(command, c.Quantized):
            inner = self._checked(command.inner)
            return command if inner is command.inner else c.Quantized(inner, command.unit, command.count)
        if isinstance(command, c.SetWeight):
            name = c.resolve_prompt(command.name, self._prompt_names())
            return command if name == command.name else c.SetWeight(name, command.weight)
        if isinstance(command, c.SetMix):
            known = self._prompt_names()
            pairs = tuple((c.resolve_prompt(n, known), w) for n, w in command.weights)
            return command if pairs == command.weights else c.SetMix(pairs, command.length, command.unit, command.curve)
        controls = self._services.controls
        incoming = self._services.scenes.incoming()  # installs at the next frame: what the command meets
        if isinstance(command, c.SetAxis) and not controls.has_axis(command.axis) and not _scene_has_axis(incoming, command.axis):
            if isinstance(command.axis, int):
                raise ValueError(f"no PCA axis {command.axis}: load a PCA file (scene `pca:`) first")
            raise ValueError(f"no axis {command.axis!r}")
        if isinstance(command, c.SetXY) and not controls.has_surface and not (
                incoming is not None and any(p.position is not None for p in incoming.prompts.values())):
            raise ValueError("no surface: no prompt has a position (a scene's prompts `position: [x, y]`)")
        return command

    def _clamped(self, command: c.Command) -> list[Reply] | None:
        if not isinstance(command, c.SetParam):
            return None
        applied = self._services.controls.clamp(command.name, command.value)
        if applied == command.value:
            return None
        return [r.Clamped(command.name, applied, "safety limit").message()]

    def define_prompt(self, name: str, text: str, weight: float | None, due: float | None) -> None:
        """Register the prompt now (still encoding); it joins the mix when the encoder is done."""
        check_prompt_room(name, self._prompt_names())  # the registry's own limit, told the sender now
        self.submit(c.DefinePrompt(name, text, None, weight), due)
        if len(self._pending_names) < MAX_PROMPTS:
            self._pending_names[name] = time.monotonic()
        self._services.encoder.submit(name, text=text)

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

    # -- scenes ------------------------------------------------------------------
    def scene_load(self, name: str, due: float | None, answer: Answer | None = None) -> None:
        try:
            self._services.scenes.load_named(name, due, answer)
        except SceneError as exc:
            shown = "; ".join(exc.errors[:3]) + (f" (+{len(exc.errors) - 3} more)" if len(exc.errors) > 3 else "")
            raise ValueError(shown) from None

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None,
            answer: Answer | None = None) -> None:
        self._services.scenes.cue(name, due, when, answer)

    def learn(self, kind: str, name: str) -> None:
        self._services.learn(kind, name)

    def mapped(self, address: str, args: list[Any], due: float | None) -> bool:
        return self._services.scenes.from_osc(address, args, due)

    def dialects(self) -> "Dialects":
        return self._services.dialects

    # -- the model ------------------------------------------------------------------
    def prefill(self, name: str | None) -> None:
        path = inside(self._services.audio_dir, name) if name else None
        try:
            found = path is None or path.is_file()
        except OSError:  # a name the file system cannot hold (ENAMETOOLONG) names no file either
            found = False
        if not found:
            raise ValueError(f"no audio file {name!r} in {self._services.audio_dir}")
        self._services.prefill(path)

    def model(self, name: str, answer: Answer | None = None) -> None:
        """Load `name` beside the running engine; a model that will not load (or cannot keep up)
        leaves the music as it is, and `answer` tells the sender why once loading has failed."""
        from mrtd.engines import mrt2

        if not mrt2.assets_present(name):
            function_path, _ = mrt2.model_paths(name)
            raise ValueError(f"no model {name!r}: {function_path} is missing")
        loading = self._services.swap_engine("mrt2", name)
        if answer is None:
            return

        def refused(done: Future) -> None:
            if done.exception() is not None:
                answer([r.Error(f"{ROOT}/model", str(done.exception())).message()])

        loading.add_done_callback(refused)

    def buffer_size(self, samples: int) -> list[Reply]:
        """The official `buffersize` as mrtd's nearest latency preset (app/official_buffer.py);
        mrtd's lead is set when it starts, so the reply says whether it is the one running."""
        preset = official_buffer.preset_for(samples)
        lead = LATENCY_PRESETS[preset].lead_frames
        applies = "now" if self._services.status().get("lead_frames") == lead else f"at start: --latency {preset}"
        return [r.BufferSize(official_buffer.official_samples(samples), preset, lead, applies).message()]

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

    # -- recording -----------------------------------------------------------------
    def record_start(self, name: str | None) -> str:
        """Record into a new file; the reply names it (`take-2.wav` when `take.wav` exists)."""
        name = check_name(name) if name else time.strftime("mrtd-%Y%m%d-%H%M%S")
        path = inside(self._services.record_dir, name, ".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = self._services.recorder.start(str(path))
        except SinkError as exc:
            raise ValueError(f"cannot record to {path.name}: {exc}") from None
        return written.rsplit("/", 1)[-1]

    def record_stop(self) -> str | None:
        path = self._services.recorder.stop()
        return None if path is None else path.rsplit("/", 1)[-1]


def _scene_has_axis(scene: "Scene | None", axis: int | str) -> bool:
    """Whether a scene about to install brings `axis` (a numbered one needs its PCA file)."""
    if scene is None:
        return False
    if isinstance(axis, str) and axis.isdigit():
        axis = int(axis)
    return scene.pca is not None if isinstance(axis, int) else axis in scene.axes
