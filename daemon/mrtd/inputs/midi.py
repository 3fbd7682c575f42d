"""MIDI input through python-rtmidi: named ports, a virtual `mrtd` port, and hot-plug.

rtmidi calls `on_message` on its own thread; the callback only builds
commands. ALSA needs /dev/snd/seq; where it is missing (containers), the JACK
MIDI API works whenever a JACK server runs. With neither, MIDI is off and the
log says why in one line: the music does not depend on it.
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Callable

from mrtd.lifecycle import Worker

log = logging.getLogger(__name__)

OnMessage = Callable[[list[int]], None]
CLIENT_NAME = "mrtd"


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
        self._inputs: dict[str, object] = {}  # port name -> rtmidi.MidiIn
        self._virtual_in = None
        # One client lists the ports for every scan: making and deleting one each second
        # added and removed a JACK client each time, a graph change every client saw.
        self._lister = None
        self._worker = Worker("mrtd-midi-hotplug", self._watch)
        self._stop = self._worker.stopping
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
            self._virtual_in = rtmidi.MidiIn(rtapi=self._api, name=CLIENT_NAME)
            self._virtual_in.ignore_types(sysex=True, timing=False, active_sense=True)
            self._virtual_in.set_callback(self._receive)
            self._virtual_in.open_virtual_port("in")
            log.info("MIDI: virtual input %s:in (%s)", CLIENT_NAME, rtmidi.get_api_name(self._api))
        self.scan()
        self._worker.start()
        return True

    def stop(self) -> None:
        self._worker.stop()
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
                port = self._inputs.pop(name)
                try:
                    port.delete()
                except Exception:
                    pass
        for index, name in enumerate(available):
            if name in self._inputs or name.startswith(f"{CLIENT_NAME}:") or name.startswith(f"{CLIENT_NAME}-"):
                continue
            if any(w in name.lower() for w in self.wanted):
                port = rtmidi.MidiIn(rtapi=self._api, name=CLIENT_NAME)
                port.ignore_types(sysex=True, timing=False, active_sense=True)
                port.set_callback(self._receive)
                try:
                    port.open_port(index, "in-" + str(len(self._inputs) + 1))
                except rtmidi.SystemError as exc:
                    log.warning("MIDI: cannot open %s: %s", name, exc)
                    port.delete()
                    continue
                self._inputs[name] = port
                log.info("MIDI: opened %s", name)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.scan()
            except Exception:  # a flaky driver must not end hot-plug
                log.exception("MIDI port scan failed")

    def _receive(self, event: tuple[list[int], float], _data: object = None) -> None:
        message, _delta = event
        self.messages += 1
        try:
            self.on_message(message)
        except ValueError as exc:
            self.bad_messages += 1
            log.warning("MIDI %s: %s", message, exc)
        except Exception:
            self.bad_messages += 1
            log.exception("MIDI %s: handler failed", message)
