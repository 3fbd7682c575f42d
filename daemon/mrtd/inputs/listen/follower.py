"""The analysis thread: reads the captured input hop by hop, and the music follows it.

The capture (audio/capture.py, handed in by the composition root as
`CapturedAudio`) only copies the input into its ring. This thread reads 10 ms
hops from it, runs `ListenAnalysis` on each and submits what it implies: notes
while `listen_notes` is on, tempo and beat while `listen_tempo` is, and every N
bars the last N bars to the style encoder while `listen_style` (the `listen`
prompt's weight) is above 0. The three switches are parameters (OSC, the web
page, a scene, `--follow`), read here each hop as plain values, as Link reads
the tempo.

Measured for status: the latency from a hop's last sample arriving at the input
to its commands being submitted (waiting in the ring plus the analysis), and
the analysis's cost per 40 ms frame (four hops) on this thread.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

from mrtd.control.commands import ClearPrompt, Command, DefinePrompt, SetWeight
from mrtd.frame import CHANNELS
from mrtd.inputs.listen.analysis import ListenAnalysis
from mrtd.inputs.listen.style import PROMPT, StyleListener
from mrtd.lifecycle import Worker

if TYPE_CHECKING:
    from mrtd.control.state import Controls

log = logging.getLogger(__name__)

DEFAULT_BARS = 4  # the listen prompt is the last 4 bars heard, renewed every 4 bars
HOPS_PER_FRAME = 4
KEPT = 500  # latencies and costs kept for the percentiles (20 s of frames)

EmbedAudio = Callable[[str, np.ndarray, int], None]  # (prompt name, samples [n, 2], rate): queue an encode


class RingReader(Protocol):
    def fill(self) -> int: ...
    def read_into(self, out: np.ndarray, n: int) -> int: ...


class CapturedAudio(Protocol):
    """What the follower reads of a capture (audio/capture.py's `Capture` is one)."""

    sample_rate: int
    overruns: int

    @property
    def ring(self) -> RingReader: ...
    def wall_time(self, position: int) -> float: ...
    def describe(self) -> str: ...


class ListenFollower:
    def __init__(self, capture: CapturedAudio, controls: "Controls", embed: EmbedAudio | None = None,
                 bars: int = DEFAULT_BARS) -> None:
        self.capture = capture
        self._controls = controls
        self._embed = embed
        self.bars = bars
        self.analysis = ListenAnalysis(capture.sample_rate, capture.wall_time)
        self.style = StyleListener(capture.sample_rate)
        self.hop = self.analysis.hop
        self._block = np.zeros((self.hop, CHANNELS), dtype=np.float32)
        self._style_weight = 0.0  # the listen prompt's weight as last submitted (0: no prompt)
        self._prompt_defined = False
        self._frame_cost = 0.0
        self._hops = 0
        self.latencies_ms: deque[float] = deque(maxlen=KEPT)
        self.costs_ms: deque[float] = deque(maxlen=KEPT)  # per 40 ms frame
        self._worker = Worker("mrtd-listen", self._run)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        released = self.analysis.notes.switch(False)  # what it held is let go with it
        for command in released:
            self._controls.submit(command)

    def _run(self) -> None:
        ring, hop = self.capture.ring, self.hop
        wait = hop / self.capture.sample_rate / 2
        stopping = self._worker.stopping
        while not stopping.is_set():
            if ring.fill() < hop:
                stopping.wait(wait)
                continue
            ring.read_into(self._block, hop)
            self.step(self._block)

    def step(self, block: np.ndarray) -> list[Command]:
        """One hop [hop, 2] of the input: analyse it and submit what follows (the commands, returned)."""
        values = self._controls.values
        analysis = self.analysis
        analysis.meter = int(values["meter"])
        analysis.switch_tempo(bool(values["listen_tempo"]))
        started = time.perf_counter()
        commands = analysis.notes.switch(bool(values["listen_notes"]))
        commands += analysis.process(block)
        self._frame_cost += time.perf_counter() - started
        self._hops += 1
        if self._hops % HOPS_PER_FRAME == 0:
            self.costs_ms.append(self._frame_cost * 1000.0)
            self._frame_cost = 0.0
        commands += self._follow_style(block, float(values["listen_style"]), float(values["tempo"]), analysis.meter)
        for command in commands:
            self._controls.submit(command)
        self.latencies_ms.append((time.time() - self.capture.wall_time(analysis.position)) * 1000.0)
        return commands

    def _follow_style(self, block: np.ndarray, weight: float, bpm: float, meter: int) -> list[Command]:
        commands: list[Command] = []
        if weight != self._style_weight:
            if weight <= 0.0:
                commands.append(ClearPrompt(PROMPT))
                self._prompt_defined = False
            elif self._prompt_defined:
                commands.append(SetWeight(PROMPT, weight))
            self._style_weight = weight
        clip = self.style.step(block, bpm, meter, self.bars, weight > 0.0 and self._embed is not None)
        if clip is not None and self._embed is not None:
            if not self._prompt_defined:  # joins the mix once its first embedding is ready
                commands.append(DefinePrompt(PROMPT, "what mrtd hears", None, weight))
                self._prompt_defined = True
            self._embed(PROMPT, clip, self.capture.sample_rate)
        return commands

    def status(self) -> dict[str, Any]:
        analysis = self.analysis
        latencies = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        costs = np.array(self.costs_ms) if self.costs_ms else np.zeros(1)
        return {
            "listen": self.capture.describe(),
            "listen_level_db": round(analysis.level_db, 1),
            "listen_chord": analysis.notes.chord,
            "listen_bpm": round(analysis.tempo.bpm, 1) if analysis.tempo.bpm is not None else 0.0,
            "listen_latency_ms": round(float(np.percentile(latencies, 50)), 1),  # input to commands, p50
            "listen_latency_p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "listen_cost_ms": round(float(np.percentile(costs, 50)), 3),  # analysis per 40 ms frame, p50
            "listen_overruns": self.capture.overruns,
        }
