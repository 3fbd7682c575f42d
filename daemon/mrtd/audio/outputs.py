"""Where the audio goes: a sound card (PortAudio via sounddevice), a WAV file, or nowhere.

Every output drives the same `Playout.fill`. The sound card calls it from
PortAudio's callback; the file and null sinks call it from a thread paced by
the monotonic clock, so timing behaves the same with or without a device.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from abc import ABC, abstractmethod

import numpy as np

from mrtd.audio.playout import Playout
from mrtd.audio.recorder import open_wav, write_pcm16
from mrtd.frame import CHANNELS, SAMPLE_RATE

log = logging.getLogger(__name__)


class OutputError(RuntimeError):
    """The output cannot be opened; the message says why in one line."""


class Output(ABC):
    name = "output"

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


class PacedOutput(Output):
    """Pulls blocks at the real-time rate from its own thread; subclasses consume them."""

    block = 480  # 10 ms

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._buffer = np.zeros((self.block, CHANNELS), dtype=np.float32)

    def time(self) -> float:
        return time.monotonic()

    def start(self, playout: Playout) -> None:
        self.playout = playout
        self._stop.clear()
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"mrtd-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._close()

    def _run(self) -> None:
        assert self.playout is not None
        blocks = 0
        period = self.block / SAMPLE_RATE
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


class WavOutput(PacedOutput):
    """16-bit stereo WAV at 48 kHz, written as the audio is played."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.name = f"wav:{path}"
        try:
            self._file = open_wav(path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def _consume(self, block: np.ndarray) -> None:
        write_pcm16(self._file, block)

    def _close(self) -> None:
        self._file.close()


class DeviceOutput(Output):
    """A sound card through PortAudio. The callback only runs `Playout.fill`."""

    def __init__(self, device: int | str | None = None, blocksize: int = 0, latency: str | float = "low") -> None:
        super().__init__()
        sd = import_sounddevice()
        try:
            info = sd.query_devices(device, kind="output") if device is not None else sd.query_devices(kind="output")
        except (ValueError, sd.PortAudioError) as exc:
            raise OutputError(f"no output device {device!r}: {exc}") from exc
        self._sd = sd
        self.device_name = info["name"]
        self.name = f"device:{self.device_name}"
        self._device = device
        self._blocksize = blocksize
        self._latency = latency
        self._stream = None
        self._xruns = 0

    def start(self, playout: Playout) -> None:
        self.playout = playout
        fill = playout.fill
        # PortAudio's thread must take the GIL to run the callback. CPython hands the GIL
        # over every 5 ms by default, about one device period, so a busy generator or
        # OSC thread made the callback late (measured: 5 device underruns in 10 s on
        # JACK at 256 frames; none at 1 ms).
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))

        def callback(outdata, frames, time_info, status):  # PortAudio's thread: see audio/playout.py
            if status.output_underflow:
                self._xruns += 1
            fill(outdata, time_info.outputBufferDacTime)

        try:
            self._stream = self._sd.OutputStream(
                samplerate=SAMPLE_RATE,
                channels=CHANNELS,
                dtype="float32",
                device=self._device,
                blocksize=self._blocksize,
                latency=self._latency,
                callback=callback,
            )
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise OutputError(f"cannot open {self.device_name}: {exc}") from exc

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def time(self) -> float:
        return self._stream.time if self._stream is not None else 0.0

    @property
    def latency(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    @property
    def device_underruns(self) -> int:
        return self._xruns


def import_sounddevice():
    """sounddevice, or OutputError when PortAudio itself is missing."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is not installed
        raise OutputError(f"PortAudio is not installed ({exc}); install libportaudio2") from exc
    return sounddevice


def open_output(spec: str = "default") -> Output:
    """Parse `default | device:NAME-or-INDEX | wav:PATH | null`.

    A missing PortAudio or device falls back to the null sink with one clear log line.
    """
    if spec == "null":
        return NullOutput()
    if spec.startswith("wav:"):
        return WavOutput(spec[4:])
    if spec == "default" or spec.startswith("device:"):
        device: int | str | None = None
        if spec.startswith("device:"):
            name = spec[len("device:") :]
            device = int(name) if name.isdigit() else name
        try:
            return DeviceOutput(device)
        except OutputError as exc:
            log.warning("audio output unavailable: %s; playing to the null sink instead", exc)
            return NullOutput()
    raise OutputError(f"unknown output {spec!r}; use default, device:NAME, wav:PATH or null")


def list_devices() -> str:
    sd = import_sounddevice()
    return str(sd.query_devices())
