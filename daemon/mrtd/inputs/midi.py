"""MIDI input through python-rtmidi: named ports, a virtual `mrtd` port, and hot-plug.

What arrives waits in rtmidi's own queue and one reader thread drains the
queues every `READ_S`; `on_message` runs there and only builds commands. No
rtmidi callback is set, on purpose: with JACK, rtmidi calls it on JACK's
real-time thread, which would then wait for the interpreter's lock behind
every other Python thread. A late JACK cycle loses the MIDI of that cycle and
can make every client of the server miss its deadline (seen: 3 of 48 clock
ticks lost on a busy 2-core machine). Queued, a message waits at most `READ_S`
more, far inside a 40 ms frame, and keeps its time: rtmidi stamps each message
with the time since the one before, so `on_message` gets when it arrived (a MIDI
clock's tempo is measured from those times, not from when the reader woke). ALSA needs /dev/snd/seq; where it is missing (containers), the JACK
MIDI API works whenever a JACK server runs. With neither, MIDI is off and the
log says why in one line: the music does not depend on it.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from typing import Any, Callable

from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

OnMessage = Callable[[list[int], float], None]  # (message, time.monotonic() when it arrived)
CLIENT_NAME = "mrtd"
READ_S = 0.004  # how often the reader drains rtmidi's queues: at most this much added latency (1.2 % of a core idle; 3.0 % at 2 ms)
QUEUE_MESSAGES = 4096  # per port, in rtmidi; at READ_S that is a million messages a second


def _jack_running() -> bool:
    import rtmidi

    from mrtd.jack import quiet_libjack

    # No "Cannot connect to server socket" on stderr when there is no server: the wheel's
    # own libjack (in site-packages/python_rtmidi*/) is the one rtmidi calls, so quiet that one too.
    quiet_libjack()
    for bundled in glob.glob(os.path.join(os.path.dirname(rtmidi.__file__), "..", "python_rtmidi*", "libjack*.so*")):
        quiet_libjack(bundled)

    try:
        probe = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="mrtd-probe")
    except rtmidi.SystemError:
        return False
    probe.delete()
    return True


def pick_api(preferred: str = "auto") -> int | None:
    """The rtmidi API to use: ALSA when its sequencer exists, else JACK when running."""
    import rtmidi

    if preferred == "alsa" or (preferred == "auto" and os.path.exists("/dev/snd/seq")):
        return rtmidi.API_LINUX_ALSA
    if preferred == "jack" or (preferred == "auto" and rtmidi.API_UNIX_JACK in rtmidi.get_compiled_api() and _jack_running()):
        return rtmidi.API_UNIX_JACK
    if preferred == "auto" and rtmidi.API_MACOSX_CORE in rtmidi.get_compiled_api():
        return rtmidi.API_MACOSX_CORE
    return None


class MidiInput:
    def __init__(self, on_message: OnMessage, ports: list[str] | None = None, virtual: bool = True,
                 api: str = "auto", poll_s: float = 1.0) -> None:
        self.on_message = on_message
        self.wanted = [p.lower() for p in (ports or [])]
        self.virtual = virtual
        self.api_name = api
        self.poll_s = poll_s
        self._api: int | None = None
        # rtmidi has no type hints: its objects are Any here.
        self._inputs: dict[str, Any] = {}  # port name -> rtmidi.MidiIn
        self._virtual_in: Any = None
        # One client lists the ports for every scan: making and deleting one each second
        # added and removed a JACK client each time, a graph change every client saw.
        self._lister: Any = None
        self._worker = Worker("mrtd-midi-hotplug", self._watch)
        self._stop = self._worker.stopping
        self._reader = Worker("mrtd-midi-in", self._read)
        self._ports_lock = threading.Lock()  # the reader's list of ports, against hot-plug
        self.messages = 0
        self.bad_messages = 0

    @property
    def open_ports(self) -> list[str]:
        return list(self._inputs)

    def start(self) -> bool:
        """Open what can be opened; False (with one log line) when MIDI is unavailable here."""
        try:
            import rtmidi
        except ImportError as exc:
            log.warning("MIDI off: python-rtmidi is not installed (%s)", exc)
            return False
        self._api = pick_api(self.api_name)
        if self._api is None:
            log.warning("MIDI off: no ALSA sequencer (/dev/snd/seq) and no JACK server")
            return False
        if self.virtual:
            self._virtual_in = rtmidi.MidiIn(rtapi=self._api, name=CLIENT_NAME, queue_size_limit=QUEUE_MESSAGES)
            self._virtual_in.ignore_types(sysex=True, timing=False, active_sense=True)
            self._virtual_in.open_virtual_port("in")
            log.info("MIDI: virtual input %s:in (%s)", CLIENT_NAME, rtmidi.get_api_name(self._api))
        self.scan()
        self._reader.start()
        self._worker.start()
        return True

    def stop(self) -> None:
        self._worker.stop()
        self._reader.stop()
        for port in list(self._inputs.values()) + ([self._virtual_in] if self._virtual_in else []):
            try:
                port.close_port()
                port.delete()
            except Exception:  # closing a port that vanished must not stop shutdown
                pass
        self._inputs.clear()
        if self._lister is not None:
            try:
                self._lister.delete()
            except Exception:
                pass
            self._lister = None

    def scan(self) -> None:
        """Open newly appeared ports that match; forget ports that disappeared."""
        import rtmidi

        if not self.wanted:
            return
        if self._lister is None:
            self._lister = rtmidi.MidiIn(rtapi=self._api, name=f"{CLIENT_NAME}-scan")
        available = self._lister.get_ports()
        for name in list(self._inputs):
            if name not in available:
                log.warning("MIDI: %s disappeared; will reopen it when it comes back", name)
                with self._ports_lock:
                    port = self._inputs.pop(name)
                try:
                    port.delete()
                except Exception:
                    pass
        for index, name in enumerate(available):
            if name in self._inputs or name.startswith(f"{CLIENT_NAME}:") or name.startswith(f"{CLIENT_NAME}-"):
                continue
            if any(w in name.lower() for w in self.wanted):
                port = rtmidi.MidiIn(rtapi=self._api, name=CLIENT_NAME, queue_size_limit=QUEUE_MESSAGES)
                port.ignore_types(sysex=True, timing=False, active_sense=True)
                try:
                    port.open_port(index, "in-" + str(len(self._inputs) + 1))
                except rtmidi.SystemError as exc:
                    log.warning("MIDI: cannot open %s: %s", name, exc)
                    port.delete()
                    continue
                with self._ports_lock:
                    self._inputs[name] = port
                log.info("MIDI: opened %s", name)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.scan()
            except Exception:  # a flaky driver must not end hot-plug
                log.exception("MIDI port scan failed")

    def _read(self) -> None:
        """Drain every port's queue, then hand the messages on, each with when it arrived."""
        stopping = self._reader.stopping
        arrived: dict[int, float] = {}  # port -> when its latest message arrived
        drained = time.monotonic()
        while not stopping.wait(READ_S):
            events: list[tuple[list[int], float]] = []
            now = time.monotonic()
            with self._ports_lock:  # never while handling: a handler may reach back to MIDI
                ports = ([self._virtual_in] if self._virtual_in is not None else []) + list(self._inputs.values())
                for port in ports:
                    while (event := port.get_message()) is not None:
                        message, delta = event
                        # rtmidi's delta is exact; the first message's arrival is only known to lie
                        # since the last drain, so each estimate is held inside (drained, now].
                        at = arrived.get(id(port), now) + delta
                        at = arrived[id(port)] = min(now, max(at, drained))
                        events.append((message, at))
            drained = now
            for message, at in events:
                self._receive(message, at)

    def _receive(self, message: list[int], at: float) -> None:
        self.messages += 1
        try:
            self.on_message(message, at)
        except ValueError as exc:
            self.bad_messages += 1
            log.warning("MIDI %s: %s", message, exc)
        except Exception:
            self.bad_messages += 1
            log.exception("MIDI %s: handler failed", message)
