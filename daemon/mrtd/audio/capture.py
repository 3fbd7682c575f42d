"""Audio in: what mrtd listens to (`--listen`), captured into a ring the analysis reads.

The sources are spelled as the outputs are (audio/outputs.py): `default` and
`device:NAME-or-INDEX` open a sound card's input through PortAudio, `jack` and
`jack:PORT_L,PORT_R` open PortAudio's JACK host API with ports
`mrtd:listen_L` and `mrtd:listen_R` (unconnected, or connected from the named
ports), and a WAV file (`wav:PATH`, read by the composition root) plays in
real time, looped: rehearsal and tests.

Capture keeps the audio callback contract of audio/playout.py: the PortAudio
callback (or the paced thread of a file) only copies the block into the
preallocated `Ring`; when the reader has fallen so far behind that the block
does not fit, the block is dropped and counted (`overruns`), never waited for.
Everything else (level, notes, tempo, style) runs on the analysis thread,
which reads the ring (inputs/listen/). Each source also says when a sample was
heard (`wall_time`, epoch seconds), so a beat found in the input lines up with
the beat the model plays at that moment.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from mrtd import jack
from mrtd.audio.outputs import OutputError, import_sounddevice
from mrtd.audio.ring import Ring
from mrtd.frame import CHANNELS, SAMPLE_RATE
from mrtd.lifecycle import Worker, short_gil_turns

log = logging.getLogger(__name__)

RING_SECONDS = 2.0  # the analysis reads every 10 ms; two seconds behind is a stall, not jitter
JACK_PORTS = ("listen_L", "listen_R")  # what mrtd's JACK input ports are called


class CaptureError(RuntimeError):
    """The input cannot be opened; the message says why in one line."""


class Capture(ABC):
    """One audio input writing stereo float32 into `ring` at `sample_rate`."""

    name = "capture"

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.ring = Ring(round(RING_SECONDS * self.sample_rate), CHANNELS)
        self.overruns = 0  # blocks dropped because the analysis had fallen behind

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def wall_time(self, position: int) -> float:
        """When ring sample `position` arrived at the input, in epoch seconds (`time.time()`)."""

    def describe(self) -> str:
        return self.name

    def _offer(self, block: np.ndarray) -> None:
        """Copy one block in, or drop it (counted) when the reader left no room: never wait."""
        ring = self.ring
        if len(block) <= ring.space():
            ring.write(block)
        else:
            self.overruns += 1


class LoopCapture(Capture):
    """Samples played in real time, looped: a `wav:` source (rehearsal, tests).

    A thread paced by the monotonic clock copies one 10 ms block at a time, on absolute
    deadlines (no drift), as the paced outputs do."""

    def __init__(self, samples: np.ndarray, sample_rate: int, name: str = "loop") -> None:
        super().__init__(sample_rate)
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[:, None]
        if len(audio) == 0:
            raise CaptureError(f"{name} holds no audio")
        self.block = self.sample_rate // 100  # 10 ms
        stereo = np.broadcast_to(audio[:, :CHANNELS], (len(audio), CHANNELS))
        # At least one block long, so a block wraps the loop at most once.
        self._audio = np.ascontiguousarray(np.resize(stereo, (max(len(stereo), self.block), CHANNELS)))
        self.name = name
        self._buffer = np.zeros((self.block, CHANNELS), dtype=np.float32)
        self._worker = Worker("mrtd-listen-loop", self._run)
        self._started_at = 0.0  # monotonic
        self._started_wall = 0.0  # time.time() at the same moment

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._started_wall = time.time()
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def wall_time(self, position: int) -> float:
        return self._started_wall + position / self.sample_rate

    def _run(self) -> None:
        stopping = self._worker.stopping
        block, length = self.block, len(self._audio)
        period = block / self.sample_rate
        blocks = 0
        where = 0
        while not stopping.is_set():
            due = self._started_at + (blocks + 1) * period  # a block is there once it has been played
            delay = due - time.monotonic()
            if delay > 0:
                stopping.wait(delay)
                continue
            first = min(block, length - where)
            self._buffer[:first] = self._audio[where : where + first]
            if first < block:  # the loop wraps inside this block
                self._buffer[first:] = self._audio[: block - first]
            where = (where + block) % length
            self._offer(self._buffer)
            blocks += 1


class DeviceCapture(Capture):
    """A sound card's input (or JACK's) through PortAudio; the callback only copies into the ring."""

    def __init__(self, device: int | str | None = None, sample_rate: int | None = None,
                 jack_sources: list[str] | None = None, want_jack: bool = False, latency: str | float = "low") -> None:
        sd = import_sounddevice_for_capture()
        if want_jack:
            device = _jack_input_device(sd)
        try:
            info = sd.query_devices(device, kind="input") if device is not None else sd.query_devices(kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            what = "no default input device" if device is None else f"no input device {device!r}"
            raise CaptureError(f"{what}: `mrtd devices` lists those there are") from exc
        if int(info["max_input_channels"]) < 1:
            raise CaptureError(f"{info['name']} has no input channels")
        self._sd = sd
        self.device_name = str(info["name"])
        self.host_api = sd.query_hostapis(info["hostapi"])["name"]
        self.is_jack = "JACK" in self.host_api
        self._channels = min(CHANNELS, int(info["max_input_channels"]))  # a mono input is heard on both sides
        super().__init__(sample_rate or self._preferred_rate(device, info))
        self.name = f"jack:{','.join(jack_sources)}" if jack_sources else ("jack" if want_jack else f"device:{self.device_name}")
        self._device = device
        self._latency = latency
        self._jack_sources = list(jack_sources or [])
        self._want_jack = want_jack
        self._stream: Any = None
        self._end = (0, 0.0)  # (ring position after the last block, stream time of its last sample): the callback's
        self.device_overruns = 0  # input overflows PortAudio reported
        self.jack_ports: list[str] = []

    def _preferred_rate(self, device: int | str | None, info: dict) -> int:
        for rate in (SAMPLE_RATE, int(info["default_samplerate"])):
            try:
                self._sd.check_input_settings(device=device, channels=self._channels, dtype="float32", samplerate=rate)
                return rate
            except (ValueError, self._sd.PortAudioError):
                continue
        raise CaptureError(f"{self.device_name} takes neither 48000 Hz nor {info['default_samplerate']:.0f} Hz")

    def start(self) -> None:
        offer, rate = self._offer, float(self.sample_rate)
        ring = self.ring
        short_gil_turns()

        def callback(indata, frames, time_info, status):  # PortAudio's thread: see audio/playout.py
            if status.input_overflow:
                self.device_overruns += 1
            offer(indata)  # [frames, 1 or 2]: a mono input broadcasts onto both channels
            self._end = (ring.written, time_info.inputBufferAdcTime + frames / rate)

        try:
            self._stream = self._sd.InputStream(samplerate=self.sample_rate, channels=self._channels, dtype="float32",
                                                device=self._device, latency=self._latency, callback=callback)
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise CaptureError(f"cannot open {self.device_name} for input: {exc}") from exc
        if self.is_jack:
            self._name_jack_ports()

    def _name_jack_ports(self) -> None:
        """PortAudio calls its input ports `in_0`, `in_1`: rename them `listen_L/R`, and for `jack`
        and `jack:A,B` replace PortAudio's connections (the system's capture) with the ones asked for."""
        client = jack.client_name() or jack.CLIENT_NAME
        ours = [f"{client}:in_{i}" for i in range(self._channels)]
        try:
            self.jack_ports = jack.name_ports(ours, list(JACK_PORTS[: self._channels]))
            if self._want_jack:
                jack.connect_inputs(self.jack_ports, self._jack_sources)
        except OSError as exc:
            log.warning("JACK: listen ports: %s", exc)
            self.jack_ports = self.jack_ports or ours
            return
        log.info("JACK: listening on %s%s", ", ".join(self.jack_ports),
                 f" from {', '.join(self._jack_sources)}" if self._jack_sources else "")

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def wall_time(self, position: int) -> float:
        written, end_time = self._end
        stream = self._stream
        if stream is None or end_time == 0.0:
            return time.time()
        # The stream's clock and the wall clock read together: the one bridge between them.
        now_stream, now_wall = stream.time, time.time()
        return now_wall - (now_stream - (end_time - (written - position) / self.sample_rate))

    def describe(self) -> str:
        return f"{self.name} ({self.sample_rate} Hz, {self.host_api})"


def import_sounddevice_for_capture():
    try:
        return import_sounddevice()
    except OutputError as exc:
        raise CaptureError(str(exc)) from exc


def _jack_input_device(sd) -> int:
    """The index of PortAudio's JACK device that has inputs; CaptureError when JACK is not there."""
    for index, info in enumerate(sd.query_devices()):
        if "JACK" in sd.query_hostapis(info["hostapi"])["name"] and int(info["max_input_channels"]) > 0:
            return index
    raise CaptureError("no JACK server with inputs (is jackd running? `mrtd devices` lists what PortAudio sees)")


def is_capture_device_spec(spec: str) -> bool:
    return spec == "default" or spec.startswith("device:") or spec == "jack" or spec.startswith("jack:")


def open_device_capture(spec: str, sample_rate: int | None = None) -> DeviceCapture:
    """`default`, `device:NAME-or-INDEX`, `jack`, `jack:PORT_L[,PORT_R]` (CaptureError for others)."""
    if spec == "jack" or spec.startswith("jack:"):
        sources = [p.strip() for p in spec[len("jack:"):].split(",") if p.strip()] if spec.startswith("jack:") else []
        if len(sources) > len(JACK_PORTS):
            raise CaptureError(f"jack: connects at most {len(JACK_PORTS)} ports (left, right), got {len(sources)}")
        return DeviceCapture(sample_rate=sample_rate, jack_sources=sources, want_jack=True)
    if spec == "default":
        return DeviceCapture(None, sample_rate)
    if spec.startswith("device:"):
        name = spec[len("device:"):]
        return DeviceCapture(int(name) if name.isdigit() else name, sample_rate)
    raise CaptureError(f"unknown listen source {spec!r}; use default, device:NAME, jack, jack:PORT_L,PORT_R or wav:PATH")
