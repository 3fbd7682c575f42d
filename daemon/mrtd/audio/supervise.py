"""When the sound card goes away (unplugged, the JACK server restarted), the music goes on.

A supervisor thread watches the device: if its stream stops or its callback
stops being called, the device is set aside and a paced null output takes
over the ring, so the generator, the schedule, the timing and any recording
or pipe sinks keep running.

Getting the device back needs PortAudio re-initialised (to see a restarted
server or a re-plugged card), and PortAudio may only be re-initialised once
the lost stream is closed. Where closing works (ALSA), the supervisor retries
every `retry_s` and the device takes over again when it opens. Where it does
not (a JACK server that died under an open stream: closing hangs, and
re-initialising then aborts the process, measured here), the lost stream is
left alone for good and the daemon reports itself unhealthy, so under systemd
the watchdog restarts it and the journal resumes the music on the device.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Callable, Protocol

from mrtd.audio.outputs import DeviceOutput, NullOutput, Output, OutputError, import_sounddevice
from mrtd.audio.playout import Playout
from mrtd.lifecycle import Worker, spawn

log = logging.getLogger(__name__)


class Chain(Protocol):
    """What the supervisor needs of the audio chain: the clock master, which it swaps for a
    standby and back, and the playout that master drives. The chain itself is assembled in
    app/ (it joins the runner to the playout), so audio names only this much of it."""

    master: Output
    playout: Playout


def finishes(action: Callable[[], object], timeout_s: float, name: str) -> bool:
    """Run `action` on a thread of its own; whether it finished within `timeout_s`."""
    finished = threading.Event()

    def run() -> None:
        try:
            action()
        except Exception as exc:  # a dead stream may also just fail: that still counts as done
            log.debug("%s: %s", name, exc)
        finally:
            finished.set()

    spawn(name, run)
    return finished.wait(timeout_s)


def rescan_portaudio() -> None:
    """Pa_Terminate + Pa_Initialize, so a restarted server or a re-plugged card is seen."""
    sd = import_sounddevice()
    sd._terminate()
    sd._initialize()


class DeviceSupervisor:
    def __init__(self, chain: Chain, reopen: Callable[[], Output], check_s: float = 0.5, retry_s: float = 2.0) -> None:
        self.chain = chain
        self._reopen = reopen
        self.check_s, self.retry_s = check_s, retry_s
        self.losses = 0
        self.recoveries = 0
        self.lost: DeviceOutput | None = None
        self.lost_at: float | None = None  # monotonic time of the last loss (its age goes to /metrics)
        self.recoverable = True  # False once a lost stream could not be closed
        self._abandoned: list[Output] = []  # never closed again, never finalised
        self._last_samples = -1
        self._worker = Worker("mrtd-device-watch", self._run)
        self._stop = self._worker.stopping
        self._lock = threading.Lock()  # against stop() racing a switch

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    @property
    def state(self) -> str:
        if self.lost is None:
            return "ok"
        return "lost, retrying" if self.recoverable else "lost; restart mrtd to reopen it"

    @property
    def healthy(self) -> bool:
        return self.lost is None

    def _run(self) -> None:
        next_retry = 0.0
        while not self._stop.wait(self.check_s):
            with self._lock:
                if self.lost is None:
                    if self._device_died():
                        self._set_aside()
                        next_retry = time.monotonic() + self.retry_s
                elif self.recoverable and time.monotonic() >= next_retry:
                    self._try_to_reopen()
                    next_retry = time.monotonic() + self.retry_s

    def _device_died(self) -> bool:
        master = self.chain.master
        if not isinstance(master, DeviceOutput):
            return False
        samples = self.chain.playout.samples_out
        stalled = samples == self._last_samples
        self._last_samples = samples
        return not master.active or stalled

    def _set_aside(self) -> None:
        device = self.chain.master
        assert isinstance(device, DeviceOutput)
        # The ring has a single reader. A stream that only stalled may still call back, so
        # the device lets go of the ring (detach: its callback plays silence from now on, and
        # a read in progress is waited for) before the standby takes it. Closing the stream
        # comes after, as it can hang for good when the JACK server died under it.
        if not device.detach():
            log.error("audio device %s is stuck inside its callback; not handing the ring over", device.device_name)
            return
        standby = NullOutput()
        standby.start(self.chain.playout)
        self.chain.master = standby
        self.lost = device
        self.losses += 1
        self.lost_at = time.monotonic()
        if finishes(device.stop, 2.0, "mrtd-close-lost-device"):
            log.error("audio device %s lost; the music goes on, retrying every %g s", device.device_name, self.retry_s)
            return
        self._abandoned.append(device)
        self.recoverable = False
        # sounddevice terminates PortAudio at exit, which would now hang or abort: skip it.
        atexit.unregister(import_sounddevice()._exit_handler)
        log.error("audio device %s lost and its stream cannot be closed; the music goes on without it, "
                  "and mrtd reports itself unhealthy so its supervisor (systemd) restarts it", device.device_name)

    def _try_to_reopen(self) -> None:
        rescan_portaudio()
        try:
            device = self._reopen()
        except OutputError as exc:
            log.info("audio device not back yet: %s", exc)
            return
        # One consumer at a time on the ring: the standby stops before the device starts.
        self.chain.master.stop()
        try:
            device.start(self.chain.playout)
        except OutputError as exc:
            standby = NullOutput()
            standby.start(self.chain.playout)
            self.chain.master = standby
            log.info("audio device not back yet: %s", exc)
            return
        self.chain.master = device
        self.lost = None
        self._last_samples = -1
        self.recoveries += 1
        log.info("audio device %s is back", device.describe())
