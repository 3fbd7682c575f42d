"""Everything after the generator: the clock-master output, its ring at the device rate, the
resampler in front of that ring, and the extra sinks that take a copy of each frame.

    generator --48k frame--> [sink taps: wav / flac / pipe, each with its own buffer]
              --48k frame--> RateConverter (only at another rate) --> ring --> Playout --> master output

The master (the sound card if there is one, else the first output) drives the
playout and so the frame clock. Sinks see the generated 48 kHz frames, not
the device's resampled stream, and never wait on anything.

It lives in app/ because it joins two parts: the runtime's runner and generator to the
audio playout, ring and outputs. Joining parts is the composition root's job; audio
itself imports nothing of the runtime that feeds it.
"""

from __future__ import annotations

import logging
from typing import Any

from mrtd.audio.outputs import DeviceOptions, DeviceOutput, NullOutput, Output, OutputError, device_of, open_output, split_outputs
from mrtd.audio.playout import Playout
from mrtd.runtime.resample import RateConverter
from mrtd.audio.sinks import SinkError, SinkWriter, open_sink
from mrtd.frame import SAMPLE_RATE
from mrtd.runtime.generator import Generator
from mrtd.runtime.runner import Runner, ring_for

log = logging.getLogger(__name__)


def warm_up_step_s(engine: object) -> float:
    """What a warm engine's frame is expected to cost before the runner has measured one: its
    warm-up p99 (engines/realtime.py), 0 for an engine that was not judged."""
    verdict = getattr(engine, "verdict", None)
    return verdict.p99_ms / 1000.0 if verdict is not None else 0.0


class AudioChain:
    def __init__(
        self,
        specs: list[str],
        margin_s: float,
        device_options: DeviceOptions | None = None,
        master: Output | None = None,
    ) -> None:
        """Open (not start) the outputs named by `specs`; `margin_s`: the pacing's margin (the audio
        kept ahead beyond what making a frame takes); `master` injects a ready-made clock master."""
        master_spec, sink_specs = split_outputs(specs)
        self.master_spec, self.device_options = master_spec, device_options
        self.master: Output = master or open_output(master_spec, device_options)
        try:
            self.sinks: list[SinkWriter] = [open_sink(spec) for spec in sink_specs]
        except SinkError as exc:
            raise OutputError(str(exc)) from exc
        self.sample_rate = self.master.sample_rate
        self.converter = RateConverter(self.sample_rate) if self.sample_rate != SAMPLE_RATE else None
        self.margin_s = margin_s
        self.ring = ring_for(margin_s, self.sample_rate)
        self.playout = Playout(self.ring, self.sample_rate)
        self.runner: Runner | None = None

    def runner_for(self, generator: Generator) -> Runner:
        """The generation thread feeding this chain; the sinks are tapped onto the generator here.
        It paces itself by the clock master's clock and latency, whichever output is master now."""
        for sink in self.sinks:
            sink.start()
            generator.taps.append(sink.offer)
        self.runner = Runner(generator, self.playout, self.margin_s, self.converter, duck=self.playout.duck,
                             output_time=lambda: self.master.time(), device_latency=lambda: self.master.latency,
                             step_hint=warm_up_step_s)
        return self.runner

    def start_master(self) -> Output:
        """Start the clock master; a sound card that will not open leaves the null sink playing."""
        try:
            self.master.start(self.playout)
        except OutputError as exc:
            log.warning("audio output unavailable: %s; playing to the null sink instead", exc)
            self.master = NullOutput()
            self.master.start(self.playout)
        return self.master

    def reopen_device(self) -> Output:
        """The configured sound card, opened again (OutputError if it is still gone)."""
        device = DeviceOutput(device_of(self.master_spec), options=self.device_options)
        if device.sample_rate != self.sample_rate:
            raise OutputError(f"{device.device_name} came back at {device.sample_rate} Hz, not {self.sample_rate} Hz")
        return device

    def stop_master(self) -> None:
        self.master.stop()

    def stop_sinks(self) -> None:
        """Let the sinks write what they have buffered and close (after the runner has stopped)."""
        for sink in self.sinks:
            sink.stop()

    def all_sinks(self) -> list[SinkWriter]:
        return self.master.sinks + self.sinks

    def resampler(self) -> str:
        return self.converter.describe() if self.converter is not None else "none"

    def describe(self) -> str:
        """One log line: the master with its rate, conversion and channels, then the sinks."""
        master = self.master
        line = master.describe()
        if isinstance(master, DeviceOutput):
            line += f" ({master.describe_details()}; resampler {self.resampler()})"
        if self.sinks:
            line += "; also " + ", ".join(sink.describe() for sink in self.sinks)
        return line

    def status(self) -> dict[str, Any]:
        master = self.master
        sinks = self.all_sinks()
        return {
            "device_rate": self.sample_rate,
            "resampler": self.resampler(),
            "channels": master.channel_map.describe() if isinstance(master, DeviceOutput) else "stereo",
            "jack_client": (master.jack_client or "") if isinstance(master, DeviceOutput) else "",
            "sinks": {sink.describe(): sink.dropped_samples for sink in sinks},  # name -> samples dropped
            "sink_drops": sum(sink.dropped_blocks for sink in sinks),
            "sink_errors": "; ".join(f"{sink.describe()}: {sink.error}" for sink in sinks if sink.error),
            **self.pacing_status(),
        }

    def pacing_status(self) -> dict[str, Any]:
        """The pacing as it is now: the margin (wider than configured after trouble, and why), the
        step it plans for, the audio ahead a frame starts at, and the control latency that gives."""
        runner = self.runner
        if runner is None:
            return {"margin_ms": round(self.margin_s * 1000, 1), "margin_set_ms": round(self.margin_s * 1000, 1),
                    "plan_step_ms": 0.0, "ahead_ms": 0.0, "control_latency_ms": 0.0}
        pacing = runner.pacing
        return {
            "margin_ms": round(pacing.margin_s * 1000, 1),  # now: widens after trouble, narrows back slowly
            "margin_set_ms": round(pacing.base_margin_s * 1000, 1),  # as configured (--latency)
            "plan_step_ms": round(pacing.step_s * 1000, 2),  # what making a frame took lately, p99
            "ahead_ms": round(runner.target_s * 1000, 1),  # audio ahead of the listener when a frame starts
            "control_latency_ms": round(runner.control_latency_s() * 1000, 1),  # the longest a command waits to be heard
        }
