"""The composition root: the only module that imports every layer.

Layers start in data-flow order (engine, control, generator, runner, output)
and stop in reverse, so nothing ever runs against a layer that is gone.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from mrtd.audio.outputs import NullOutput, Output, OutputError, open_output
from mrtd.audio.playout import Playout
from mrtd.control.state import ControlState
from mrtd.engines import Engine, create_engine
from mrtd.frame import FRAME_SECONDS
from mrtd.runtime.generator import Generator
from mrtd.runtime.runner import Runner, ring_for

log = logging.getLogger("mrtd")


@dataclass
class DaemonConfig:
    engine: str = "auto"
    model: str | None = None
    output: str = "default"
    lead_frames: int = 3
    prompt: str | None = None
    seed: int = 0


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.engine: Engine | None = None
        self.control = ControlState()
        self.generator: Generator | None = None
        self.playout: Playout | None = None
        self.runner: Runner | None = None
        self.output: Output | None = None
        self.stopped = threading.Event()

    def start(self) -> None:
        config = self.config
        self.engine = create_engine(config.engine, model=config.model, seed=config.seed)
        self.engine.warm_up()
        log.info("engine: %s (warm, %.2f ms/frame)", self.engine.describe(), self.engine.metrics().mean_ms)

        self.control.set("seed", config.seed)
        if config.prompt:
            from mrtd.style.embedder import BuiltinEmbedder

            self.control.style_embedding[:] = BuiltinEmbedder().embed_text(config.prompt)
            log.info("prompt: %r", config.prompt)

        self.generator = Generator(self.engine, self.control)
        ring = ring_for(config.lead_frames)
        self.playout = Playout(ring)
        self.runner = Runner(self.generator, ring, config.lead_frames)
        self.runner.start()

        self.output = self._start_output(config.output)
        log.info(
            "output: %s (lead %d frames = %.0f ms, output latency %.1f ms)",
            self.output.describe(),
            config.lead_frames,
            config.lead_frames * FRAME_SECONDS * 1000,
            self.output.latency * 1000,
        )

    def _start_output(self, spec: str) -> Output:
        assert self.playout is not None
        output = open_output(spec)
        try:
            output.start(self.playout)
        except OutputError as exc:
            log.warning("audio output unavailable: %s; playing to the null sink instead", exc)
            output = NullOutput()
            output.start(self.playout)
        return output

    def stop(self) -> None:
        if self.output is not None:
            self.output.stop()
        if self.runner is not None:
            self.runner.stop()
        if self.engine is not None:
            self.engine.close()
        self.stopped.set()

    def status(self) -> dict[str, Any]:
        metrics = self.engine.metrics() if self.engine else None
        return {
            "engine": self.engine.describe() if self.engine else "none",
            "output": self.output.describe() if self.output else "none",
            "frames": self.generator.frames if self.generator else 0,
            "underruns": (self.playout.underruns if self.playout else 0)
            + (self.output.device_underruns if self.output else 0),
            "step_ms": metrics.mean_ms if metrics else 0.0,
            "step_p99_ms": metrics.p99_ms if metrics else 0.0,
            "lead_frames": self.config.lead_frames,
            "engine_faults": self.generator.faults if self.generator else 0,
        }
