"""The systemd notify protocol: READY after warm-up, WATCHDOG while the audio is healthy.

Written against the protocol (a datagram to $NOTIFY_SOCKET, `@` meaning the
abstract namespace) so it needs no library. Outside systemd every call is a
no-op. Watchdog pings come from a small thread that checks the generation
loop's progress: it pings only when new frames were made and no new underrun
happened since the last check, so a wedged generator or a starving device
lets systemd restart the service.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Callable

from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        watched = usec is not None and (pid is None or pid == str(os.getpid()))
        self.watchdog_s = int(usec) / 1e6 if watched and usec is not None and usec.isdigit() else None
        self._sock: socket.socket | None = None
        self._worker: Worker | None = None
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.sendto(message.encode(), target)
        except OSError as exc:
            log.warning("systemd notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def start_watchdog(self, healthy: Callable[[], bool]) -> None:
        """Ping at half the watchdog interval, only while `healthy()` says the audio is fine."""
        interval = self.watchdog_s
        if interval is None or self.address is None:
            return

        def run() -> None:
            while not worker.stopping.wait(interval / 2):
                if healthy():
                    if self.send("WATCHDOG=1"):
                        self.pings += 1

        worker = self._worker = Worker("mrtd-watchdog", run)
        worker.start()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        if self._sock is not None:
            self._sock.close()


class Progress:
    """Is the audio healthy since the last look? New frames, and no new underruns.

    A machine too slow for the model (`slow_step_s` > 0: the generator is behind
    real time, each step that many seconds) underruns by nature; restarting would
    only warm the model up again and be just as slow, so there only progress
    counts: a frame made within the last three steps' time.
    """

    def __init__(self, frames: Callable[[], int], underruns: Callable[[], int],
                 slow_step_s: Callable[[], float] = lambda: 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._frames, self._underruns, self._slow_step_s, self._clock = frames, underruns, slow_step_s, clock
        self._last = (frames(), underruns())
        self._last_progress = clock()

    def __call__(self) -> bool:
        now = (self._frames(), self._underruns())
        advanced = now[0] > self._last[0]
        if advanced:
            self._last_progress = self._clock()
        slow_step = self._slow_step_s()
        if slow_step > 0:
            healthy = advanced or self._clock() - self._last_progress <= 3 * slow_step
        else:
            healthy = advanced and now[1] == self._last[1]
        self._last = now
        return healthy
