"""A lost device lets go of the ring before the standby output takes it: the ring has one reader.

The stalling device below keeps calling back while it closes (as a PortAudio stream drains),
so a standby started before the device had let go would read the ring alongside it."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

from mrtd.audio.outputs import DeviceOutput, NullOutput, Output
from mrtd.audio.playout import Playout, playout_ring
from mrtd.audio.supervise import DeviceSupervisor
from conftest import wait_for


class ReaderLog(Playout):
    """A playout that notes which thread read the ring, in order."""

    def __init__(self) -> None:
        super().__init__(playout_ring(48000))
        self.readers: list[int] = []
        self._lock = threading.Lock()

    def fill(self, out: np.ndarray, output_time: float = 0.0) -> None:
        with self._lock:
            self.readers.append(threading.get_ident())
        super().fill(out, output_time)


class StallingDevice(DeviceOutput):
    """A stream that goes inactive but, like PortAudio draining its buffers, keeps calling
    back for a few more blocks until stop() returns."""

    DRAIN_BLOCKS = 20

    def __init__(self) -> None:
        Output.__init__(self)
        self.device_name = "stalling"
        self.gone = False
        self._halt = threading.Event()
        self._fills = 0
        self._drain_to: int | None = None
        self._drained = threading.Event()
        self.ident = 0
        self._detached = False
        self._in_fill = False

    def start(self, playout: Playout) -> None:
        self.playout = playout
        self._thread = threading.Thread(target=self._callbacks, daemon=True)
        self._thread.start()

    def _callbacks(self) -> None:
        self.ident = threading.get_ident()
        block = np.zeros((256, 2), dtype=np.float32)
        while not self._halt.is_set():
            self._fill_unless_detached(self.playout.fill, block, 0.0)  # as the real callback does
            self._fills += 1
            if self._drain_to is not None and self._fills >= self._drain_to:
                self._drained.set()
            time.sleep(0.002)  # the device period: this thread is the stand-in device's clock

    @property
    def active(self) -> bool:
        return not self.gone

    def stop(self) -> None:
        self._drain_to = self._fills + self.DRAIN_BLOCKS
        assert self._drained.wait(5), "the stand-in device stopped calling back"
        self._halt.set()
        self._thread.join()


def test_the_standby_starts_only_after_the_lost_device_has_stopped_reading():
    playout = ReaderLog()
    device = StallingDevice()
    chain = SimpleNamespace(master=device, playout=playout)
    device.start(playout)
    supervisor = DeviceSupervisor(chain, reopen=lambda: (_ for _ in ()).throw(AssertionError), check_s=0.02, retry_s=60)
    supervisor.start()
    try:
        wait_for(lambda: len(playout.readers) > 10, 5, "the device to play")
        device.gone = True
        wait_for(lambda: isinstance(chain.master, NullOutput), 5, "the standby to take over")
        standby_reads = lambda: [r for r in playout.readers if r != device.ident]  # noqa: E731
        wait_for(lambda: len(standby_reads()) >= 5, 5, "the standby to read")
    finally:
        supervisor.stop()
        chain.master.stop()
    readers = list(playout.readers)
    first_standby = next(i for i, r in enumerate(readers) if r != device.ident)
    assert device.ident not in readers[first_standby:], "the lost device read the ring after the standby began"
    assert supervisor.losses == 1 and supervisor.recoverable
