"""What the inputs may ask of the daemon (the OSC table's `Host`), and nothing more.

Inputs run on their own threads. Everything here either submits a command to
the control state, hands work to a worker thread, or reads an immutable
snapshot the generation thread published.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from mrtd.app.paths import inside
from mrtd.audio.sinks import SinkError
from mrtd.inputs.scene.loader import SceneError
from mrtd.control import commands as c
from mrtd.inputs.osc.table import ROOT, Reply

if TYPE_CHECKING:
    from mrtd.app.daemon import Daemon
    from mrtd.inputs.osc.dialect import Dialects

log = logging.getLogger(__name__)


class Surface:
    def __init__(self, daemon: "Daemon") -> None:
        self._daemon = daemon

    # -- commands ----------------------------------------------------------------
    def submit(self, command: c.Command, due: float | None) -> None:
        self._daemon.control.submit(command, due)

    def define_prompt(self, name: str, text: str, weight: float | None, due: float | None) -> None:
        """Register the prompt now (still encoding); it joins the mix when the encoder is done."""
        self.submit(c.DefinePrompt(name, text, None, weight), due)
        self._daemon.encoder.submit(name, text=text)

    # -- replies -----------------------------------------------------------------
    def status(self) -> list[Reply]:
        pairs: list[Any] = []
        for key, value in self._daemon.status().items():
            if isinstance(value, dict):
                value = " ".join(f"{k}:{v:.3g}" if isinstance(v, float) else f"{k}:{v}" for k, v in value.items())
            if value is None or value == "":
                value = "-"  # never an empty string: Pd's oscparse drops those, and pairs would shift
            elif isinstance(value, float):
                value = round(value, 3)
            pairs += [key, value]
        return [(f"{ROOT}/status", pairs)]

    def sync(self) -> list[Reply]:
        state = list(self._daemon.snapshot.items())
        return state + [(f"{ROOT}/synced", [len(state)])]  # so a client knows it has everything

    def subscribe(self, host: str, port: int) -> None:
        self._daemon.pusher.subscribe(host, port)

    def unsubscribe(self, host: str, port: int) -> None:
        self._daemon.pusher.unsubscribe(host, port)

    # -- scenes ------------------------------------------------------------------
    def scene_load(self, name: str, due: float | None) -> None:
        try:
            self._daemon.scenes.load_named(name, due)
        except SceneError as exc:
            shown = "; ".join(exc.errors[:3]) + (f" (+{len(exc.errors) - 3} more)" if len(exc.errors) > 3 else "")
            raise ValueError(shown) from None

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None) -> None:
        self._daemon.scenes.cue(name, due, when)

    def learn(self, kind: str, name: str) -> None:
        self._daemon.scenes.learn(kind, name)

    def mapped(self, address: str, args: list[Any], due: float | None) -> bool:
        return self._daemon.scenes.from_osc(address, args, due)

    def dialects(self) -> "Dialects":
        return self._daemon.dialects

    # -- the model ------------------------------------------------------------------
    def prefill(self, name: str | None) -> None:
        path = inside(self._daemon.config.audio_dir, name) if name else None
        if path is not None and not path.is_file():
            raise ValueError(f"no audio file {name!r} in {self._daemon.config.audio_dir}")
        self._daemon.prefill(path)

    def model(self, name: str) -> None:
        """Load `name` beside the running engine; a model that will not load leaves the music as it is."""
        from mrtd.engines import mrt2

        if not mrt2.assets_present(name):
            function_path, _ = mrt2.model_paths(name)
            raise ValueError(f"no model {name!r}: {function_path} is missing")
        self._daemon.swap_engine("mrt2", name)

    # -- recording -----------------------------------------------------------------
    def record_start(self, name: str | None) -> str:
        name = name or time.strftime("mrtd-%Y%m%d-%H%M%S")
        path = inside(self._daemon.config.record_dir, name, ".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._daemon.recorder.start(str(path))
        except SinkError as exc:
            raise ValueError(f"cannot record to {path.name}: {exc}") from None
        return path.name

    def record_stop(self) -> str | None:
        path = self._daemon.recorder.stop()
        return None if path is None else path.rsplit("/", 1)[-1]
