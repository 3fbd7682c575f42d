"""Where the audio goes: a sound card (PortAudio via sounddevice), a file or pipe sink, or nowhere.

Every output drives the same `Playout.fill`. The sound card calls it from
PortAudio's callback; the file, pipe and null outputs call it from a thread
paced by the monotonic clock, so timing behaves the same with or without a
device. The output that drives the playout is the clock master; further
sinks (audio/sinks.py) take a copy of each generated frame on their own.

A device may run at another rate than 48 kHz (the generation side resamples,
see runtime/resample.py) and on any channels (audio/routing.py).
"""

from __future__ import annotations

import logging
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mrtd import jack
from mrtd.audio.playout import MAX_BLOCK, Playout
from mrtd.audio.routing import ChannelMap
from mrtd.audio.sinks import SinkError, SinkWriter, is_sink_spec, open_sink
from mrtd.frame import CHANNELS, SAMPLE_RATE
from mrtd.lifecycle import Worker, short_gil_turns

log = logging.getLogger(__name__)


class OutputError(RuntimeError):
    """The output cannot be opened; the message says why in one line."""


@dataclass(frozen=True)
class LatencyPreset:
    margin_ms: float  # audio kept ahead of the listener beyond what making the next frame takes
    device_latency: str | float  # PortAudio's suggested latency: "low", "high" or seconds


# Each frame is made just in time (runtime/runner.py): when the audio still ahead of the listener
# falls to the device's own latency and what the ring holds at the callback that needs the frame
# (under a block), a high percentile of what making a frame takes, and this margin. Control latency = up to one frame's wait for the next
# frame boundary + that + the resampler's look-ahead (other rates only). Figures: docs/audio.md.
LATENCY_PRESETS: dict[str, LatencyPreset] = {
    "low": LatencyPreset(margin_ms=4.0, device_latency="low"),
    "balanced": LatencyPreset(margin_ms=12.0, device_latency="low"),  # the default
    "safe": LatencyPreset(margin_ms=120.0, device_latency="high"),
}
DEFAULT_LATENCY = "balanced"
MAX_MARGIN_MS = 10_000.0  # 10 s: past any use, and still a ring of a few MB


def parse_latency(value: object) -> LatencyPreset:
    """A preset's name (`low`, `balanced`, `safe`) or a margin in milliseconds (`15`, `15ms`, 2.5),
    which keeps PortAudio's `low` device latency. ValueError, in words, for anything else."""
    if isinstance(value, str) and value.strip() in LATENCY_PRESETS:
        return LATENCY_PRESETS[value.strip()]
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().removesuffix("ms").strip())
        except ValueError:
            number = None
    if number is None or not 0.0 <= number <= MAX_MARGIN_MS:  # nan fails both comparisons
        raise ValueError(f"latency {value!r}: use {', '.join(LATENCY_PRESETS)}, or a margin in milliseconds "
                         f"from 0 to {MAX_MARGIN_MS:.0f} (e.g. 15)")
    return LatencyPreset(margin_ms=number, device_latency=LATENCY_PRESETS[DEFAULT_LATENCY].device_latency)


@dataclass
class DeviceOptions:
    """How to open a sound card. None/empty fields mean: what the device prefers."""

    channel_map: ChannelMap | None = None  # None: stereo on channels 1-2
    sample_rate: int | None = None  # None: 48 kHz if the device takes it, else its default rate
    latency: str | float = "low"
    blocksize: int = 0  # 0: whatever the host API likes best
    jack_ports: list[str] = field(default_factory=list)  # JACK: connect the routed channels here


class Output(ABC):
    name = "output"
    sample_rate = SAMPLE_RATE  # the rate the output consumes the ring at

    def __init__(self) -> None:
        self.playout: Playout | None = None

    @abstractmethod
    def start(self, playout: Playout) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def time(self) -> float:
        """The output's clock now, in seconds (the clock timetags are mapped onto)."""

    @property
    def latency(self) -> float:
        """Seconds from `Playout.fill` to the listener."""
        return 0.0

    @property
    def device_underruns(self) -> int:
        """Gaps the device itself reported (on top of the playout's)."""
        return 0

    def describe(self) -> str:
        return self.name

    @property
    def sinks(self) -> list[SinkWriter]:
        """Sinks this output writes through (their drops are reported in status)."""
        return []


class PacedOutput(Output):
    """Pulls blocks at the real-time rate from its own thread; subclasses consume them."""

    block = 480  # 10 ms

    def __init__(self) -> None:
        super().__init__()
        self._worker = Worker(f"mrtd-{self.name}", self._run)
        self._stop = self._worker.stopping
        self._started_at = 0.0
        self._buffer = np.zeros((self.block, CHANNELS), dtype=np.float32)

    def time(self) -> float:
        return time.monotonic()

    def start(self, playout: Playout) -> None:
        self.playout = playout
        self._started_at = time.monotonic()
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._close()

    def _run(self) -> None:
        assert self.playout is not None
        blocks = 0
        period = self.block / self.playout.sample_rate
        while not self._stop.is_set():
            due = self._started_at + blocks * period
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)  # absolute deadlines: no drift
                continue
            self.playout.fill(self._buffer, output_time=due)
            self._consume(self._buffer)
            blocks += 1

    def _consume(self, block: np.ndarray) -> None:
        """Do something with a filled block (runs on the pacing thread, not a device callback)."""

    def _close(self) -> None:
        pass


class NullOutput(PacedOutput):
    name = "null"


class SinkOutput(PacedOutput):
    """A file or pipe sink as the clock master: paced blocks go to the sink's own buffer.

    The pacing thread only copies into that buffer, so a slow disk or a stalled pipe
    drops (counted) instead of stalling the clock everything else follows.
    """

    def __init__(self, sink: SinkWriter) -> None:
        super().__init__()
        self.sink = sink
        self.name = sink.name

    def start(self, playout: Playout) -> None:
        self.sink.start()
        super().start(playout)

    def _consume(self, block: np.ndarray) -> None:
        self.sink.offer(block)

    def _close(self) -> None:
        self.sink.stop()

    @property
    def sinks(self) -> list[SinkWriter]:
        return [self.sink]


class WavOutput(SinkOutput):
    """16-bit stereo WAV at 48 kHz, written as the audio is played."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            super().__init__(open_sink(f"wav:{path}"))
        except SinkError as exc:
            raise OutputError(str(exc)) from exc


def no_device(device: int | str | None) -> str:
    """The line for a sound card that is not there, in the user's words rather than PortAudio's
    ("Error querying device -1" is its way of saying there is no default output)."""
    what = "no default output device (no sound card, no JACK server)" if device is None else f"no output device {device!r}"
    return f"{what}: `mrtd devices` lists those there are; --output device:NAME picks one, --output null plays to none"


DAC_DELAYS = 16  # callbacks the device latency is the longest of


class DeviceOutput(Output):
    """A sound card through PortAudio. The callback only runs `Playout.fill` (and the channel copy)."""

    def __init__(
        self,
        device: int | str | None = None,
        blocksize: int = 0,
        latency: str | float = "low",
        options: DeviceOptions | None = None,
    ) -> None:
        super().__init__()
        options = options or DeviceOptions(latency=latency, blocksize=blocksize)
        sd = import_sounddevice()
        try:
            info = sd.query_devices(device, kind="output") if device is not None else sd.query_devices(kind="output")
        except (ValueError, sd.PortAudioError) as exc:
            raise OutputError(no_device(device)) from exc  # not PortAudio's "Error querying device -1"
        self._sd = sd
        self.device_name = info["name"]
        self.name = f"device:{self.device_name}"
        self.host_api = sd.query_hostapis(info["hostapi"])["name"]
        self.is_jack = "JACK" in self.host_api
        self.channel_map = options.channel_map or ChannelMap.stereo()
        if self.channel_map.device_channels > info["max_output_channels"]:
            raise OutputError(
                f"{self.device_name} has {info['max_output_channels']} output channels;"
                f" cannot play {self.channel_map.describe()}"
            )
        self.sample_rate = options.sample_rate or self._preferred_rate(device, info)
        self._device = device
        self._blocksize = options.blocksize
        self._latency = options.latency
        self._jack_ports = list(options.jack_ports)
        self.jack_client: str | None = None
        self._stream: Any = None  # a sounddevice.OutputStream once opened
        self._detached = False
        self._in_fill = False
        self._xruns = 0
        # Seconds from a callback to its first sample at the DAC, as PortAudio says, for the last
        # DAC_DELAYS callbacks: where PortAudio splits a host buffer into several callbacks, they
        # come together and the later ones wait longer; the runner plans with the longest.
        self._dac_delays = np.zeros(DAC_DELAYS, dtype=np.float64)
        self._callbacks = 0
        # Called in the callback with each block handed to PortAudio (tests, meters): it must
        # copy into memory it already has, and never block.
        self.played: Callable[[np.ndarray], None] | None = None

    def _preferred_rate(self, device: int | str | None, info: dict) -> int:
        """48 kHz when the device takes it (no resampling), else the device's own rate (a JACK
        server, for one, runs at exactly one rate)."""
        channels = self.channel_map.device_channels
        for rate in (SAMPLE_RATE, int(info["default_samplerate"])):
            try:
                self._sd.check_output_settings(device=device, channels=channels, dtype="float32", samplerate=rate)
                return rate
            except (ValueError, self._sd.PortAudioError):
                continue
        raise OutputError(f"{self.device_name} takes neither 48000 Hz nor {info['default_samplerate']:.0f} Hz")

    def start(self, playout: Playout) -> None:
        """Open and start the stream. Device underruns count once the music has started: a
        late callback while the first cushion builds (a new JACK client joining the graph)
        only delays silence, which nobody hears."""
        if playout.sample_rate != self.sample_rate:
            raise OutputError(f"playout runs at {playout.sample_rate} Hz but {self.device_name} at {self.sample_rate} Hz")
        self.playout = playout
        fill = self.channel_map.callback_fill(playout.fill, MAX_BLOCK)
        played = self.played
        short_gil_turns()  # PortAudio's thread must take the GIL to run the callback

        self._detached = False  # set by detach()/stop(): from then on the ring is another reader's
        self._callbacks = 0  # this stream's delays only
        guarded = self._fill_unless_detached

        def callback(outdata, frames, time_info, status):  # PortAudio's thread: see audio/playout.py
            if status.output_underflow and playout.started:
                self._xruns += 1
            # One float stored in a preallocated array, nothing else: the latency the runner plans with.
            self._dac_delays[self._callbacks % DAC_DELAYS] = time_info.outputBufferDacTime - time_info.currentTime
            self._callbacks += 1
            guarded(fill, outdata, time_info.outputBufferDacTime)
            if played is not None:
                played(outdata)

        try:
            self._stream = self._sd.OutputStream(
                samplerate=self.sample_rate,
                channels=self.channel_map.device_channels,
                dtype="float32",
                device=self._device,
                blocksize=self._blocksize,
                latency=self._latency,
                callback=callback,
            )
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise OutputError(f"cannot open {self.device_name}: {exc}") from exc
        if self.is_jack:
            self.jack_client = jack.client_name()
            if self._jack_ports:
                self._connect_jack_ports()

    def _connect_jack_ports(self) -> None:
        """Connect the routed channels (L, R or the mono one) to the configured JACK ports, in order."""
        client = self.jack_client or jack.CLIENT_NAME
        ours = [f"{client}:out_{channel - 1}" for channel in self.channel_map.channels]
        if len(self._jack_ports) != len(ours):
            log.warning("JACK: %d ports configured for %d channels; keeping PortAudio's connections",
                        len(self._jack_ports), len(ours))
            return
        try:
            jack.connect_ports(list(zip(ours, self._jack_ports)))
        except OSError as exc:
            log.warning("JACK: could not connect to %s: %s; keeping PortAudio's connections",
                        ", ".join(self._jack_ports), exc)
            return
        log.info("JACK: connected %s", ", ".join(f"{a} -> {b}" for a, b in zip(ours, self._jack_ports)))

    def _fill_unless_detached(self, fill: Callable[[np.ndarray, float], None], outdata: np.ndarray, at: float) -> None:
        """The callback's read of the ring, or silence once detached. `_in_fill` is raised
        before `_detached` is read, and detach() sets `_detached` before it reads `_in_fill`:
        so either detach() sees this read and waits for it, or this read sees it is detached."""
        self._in_fill = True
        try:
            if self._detached:
                outdata.fill(0.0)
            else:
                fill(outdata, at)
        finally:
            self._in_fill = False

    def detach(self, timeout_s: float = 0.5) -> bool:
        """Stop reading the ring now (the stream, if it still runs, plays silence); whether
        a read in progress finished within `timeout_s`. Never blocks on PortAudio."""
        self._detached = True
        deadline = time.monotonic() + timeout_s
        while self._in_fill:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        return True

    def stop(self) -> None:
        # Detach from the ring before anything that may hang (closing a stream whose JACK
        # server died): the ring's next reader must never share it with this callback.
        self._detached = True
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def time(self) -> float:
        return self._stream.time if self._stream is not None else 0.0

    @property
    def active(self) -> bool:
        """The stream is running (PortAudio marks it inactive when the device or server goes)."""
        return self._stream is not None and bool(self._stream.active)

    @property
    def latency(self) -> float:
        """What the callbacks measure (JACK: two periods, where PortAudio's stream latency says one),
        else what PortAudio says; a host API that reports no callback times leaves the latter."""
        if self._stream is None:
            return 0.0
        measured = float(self._dac_delays[: min(self._callbacks, DAC_DELAYS)].max(initial=0.0))
        return measured if 0.0 < measured < 1.0 else float(self._stream.latency)

    @property
    def device_underruns(self) -> int:
        return self._xruns

    def describe_details(self) -> str:
        """One line for the log: rate, channels, host API and the JACK client."""
        details = f"{self.sample_rate} Hz, {self.channel_map.describe()}, {self.host_api}"
        if self.jack_client:
            details += f" client {self.jack_client}"
        return details


_jack_name_applied = False


def import_sounddevice():
    """sounddevice, or OutputError when PortAudio itself is missing.

    Before PortAudio first initialises, its JACK client is named `mrtd` (jack.py).
    """
    global _jack_name_applied
    if not _jack_name_applied:
        _jack_name_applied = True
        jack.quiet_libjack()  # before PortAudio's JACK host API first tries the server
        already_initialised = "sounddevice" in sys.modules
        if jack.set_client_name() and already_initialised:
            sd = sys.modules["sounddevice"]
            # PortAudio reads the name when it initialises; nothing of ours is open yet.
            sd._terminate()
            sd._initialize()
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is not installed
        raise OutputError(f"PortAudio is not installed ({exc}); install libportaudio2") from exc
    return sounddevice


def open_output(spec: str = "default", device_options: DeviceOptions | None = None) -> Output:
    """Parse `default | device:NAME-or-INDEX | wav:PATH | flac:PATH | pipe:[FORMAT:]PATH | null`.

    A missing PortAudio or device falls back to the null sink with one clear log line.
    """
    if spec == "null":
        return NullOutput()
    if spec.startswith("wav:"):
        return WavOutput(spec[4:])
    if is_sink_spec(spec):
        try:
            return SinkOutput(open_sink(spec))
        except SinkError as exc:
            raise OutputError(str(exc)) from exc
    if is_device_spec(spec):
        try:
            return DeviceOutput(device_of(spec), options=device_options)
        except OutputError as exc:
            log.warning("audio output unavailable: %s; playing to the null sink instead", exc)
            return NullOutput()
    raise OutputError(
        f"unknown output {spec!r}; use default, device:NAME, wav:PATH, flac:PATH, pipe:[s16le:|f32le:]PATH or null"
    )


def device_of(spec: str) -> int | str | None:
    """`default` -> None, `device:3` -> 3, `device:Scarlett` -> "Scarlett"."""
    name = spec[len("device:") :] if spec.startswith("device:") else None
    return int(name) if name is not None and name.isdigit() else name


def is_device_spec(spec: str) -> bool:
    return spec == "default" or spec.startswith("device:")


def split_outputs(specs: list[str]) -> tuple[str, list[str]]:
    """(clock master, the other sinks): the device if there is one, else the first output."""
    if not specs:
        return "default", []
    devices = [spec for spec in specs if is_device_spec(spec)]
    if len(devices) > 1:
        raise OutputError(f"one sound card at a time ({', '.join(devices)}); route channels with --channels instead")
    master = devices[0] if devices else specs[0]
    others = [spec for spec in specs if spec != master]
    for spec in others:
        if spec == "null":
            raise OutputError("null is only useful as the only output")
        if not is_sink_spec(spec):
            raise OutputError(f"{spec!r} cannot be a second output; use wav:PATH, flac:PATH or pipe:PATH")
    return master, others


def list_devices() -> str:
    """PortAudio's device table, or one line saying there is none (an empty table printed nothing)."""
    sd = import_sounddevice()
    devices = sd.query_devices()
    if not len(devices):
        return ("no audio devices found (PortAudio sees no sound card and no JACK server);"
                " mrtd can still play to --output null, wav:PATH or pipe:PATH")
    return str(devices)
