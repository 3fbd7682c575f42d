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
    """Is the audio healthy since the last look? New frames, no new underruns, the device in place.

    The one definition of "the audio flows": systemd's watchdog asks it before each ping and the
    web port's /health (and /metrics' mrtd_audio_flowing) ask their own instance, so each looker
    judges the time since its own last look.

    A machine too slow for the model (`slow_step_s` > 0: the generator is behind
    real time, each step that many seconds) underruns by nature; restarting would
    only warm the model up again and be just as slow, so there only progress
    counts: a frame made within the last three steps' time.

    `device_problem`: why the sound card is not in place ("" while it is). `min_look_s`: looks
    closer together than this get the last look's answer, so a checker that asks 100 times a
    second is not told "no new frame" between two 40 ms frames (and costs nothing more).
    """

    def __init__(self, frames: Callable[[], int], underruns: Callable[[], int],
                 slow_step_s: Callable[[], float] = lambda: 0.0, clock: Callable[[], float] = time.monotonic,
                 device_problem: Callable[[], str] = lambda: "", min_look_s: float = 0.0) -> None:
        self._frames, self._underruns, self._slow_step_s = frames, underruns, slow_step_s
        self._device_problem, self._min_look_s = device_problem, min_look_s
        self.clock = clock  # tests set their own
        self._last = (frames(), underruns())
        self._last_progress = self._looked_at = clock()
        # The last look's answer. With `min_look_s`, a look within that time of the start (ready: the
        # engine warm, frames flowing) is "healthy" rather than judged over a span too short for a
        # frame; the first real look then judges everything since the start. Without it, None:
        # the first look judges at once (the watchdog's first ping comes half an interval on).
        self._why: str | None = "" if min_look_s > 0 else None

    def __call__(self) -> bool:
        return not self.why()

    def why(self) -> str:
        """Why the audio is not healthy since the last look, or "" when it is."""
        now_s = self.clock()
        if self._why is not None and now_s - self._looked_at < self._min_look_s:
            return self._why
        since = now_s - self._looked_at
        now = (self._frames(), self._underruns())
        advanced = now[0] > self._last[0]
        if advanced:
            self._last_progress = now_s
        slow_step = self._slow_step_s()
        why = ""
        if slow_step > 0:
            if not advanced and now_s - self._last_progress > 3 * slow_step:
                why = f"no new frame for {now_s - self._last_progress:.1f} s (steps take {slow_step:.1f} s)"
        elif not advanced:
            why = f"no new frame in the last {since:.1f} s"
        elif now[1] != self._last[1]:
            count = now[1] - self._last[1]
            why = f"{count} underrun{'s' if count != 1 else ''} in the last {since:.1f} s"
        why = self._device_problem() or why  # a lost card first: the underruns and stalls follow from it
        self._last, self._looked_at, self._why = now, now_s, why
        return why
