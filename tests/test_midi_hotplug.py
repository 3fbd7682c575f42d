"""Hot-plug scanning reuses one probing client: the JACK graph does not change every second."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import rtmidi

from conftest import wait_for
from mrtd.inputs.midi import MidiInput

REGISTRATION = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p)


class ClientWatch:
    """A JACK client that notes every client registering or leaving the server."""

    def __init__(self) -> None:
        self.jack = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
        self.jack.jack_client_open.restype = ctypes.c_void_p
        self.jack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        self.jack.jack_set_client_registration_callback.argtypes = [ctypes.c_void_p, REGISTRATION, ctypes.c_void_p]
        self.jack.jack_activate.argtypes = [ctypes.c_void_p]
        self.jack.jack_client_close.argtypes = [ctypes.c_void_p]
        self.events: list[tuple[str, bool]] = []
        self._callback = REGISTRATION(lambda name, registered, _arg: self.events.append((name.decode(), bool(registered))))
        status = ctypes.c_int()
        self.client = self.jack.jack_client_open(b"watch", 1, ctypes.byref(status))  # 1: JackNoStartServer
        assert self.client, f"no JACK server (status {status.value})"
        self.jack.jack_set_client_registration_callback(self.client, self._callback, None)
        self.jack.jack_activate(self.client)

    def close(self) -> None:
        self.jack.jack_client_close(self.client)


def test_each_scan_reuses_one_jack_client(jack_server):
    watch = ClientWatch()
    midi = MidiInput(lambda message, at: None, ports=["a controller nobody plugged in"], virtual=False, api="jack")
    try:
        assert midi.start()
        midi.scan()  # the first scan opens the probing client
        # A client that comes and goes in between is a fence: its events arrive after any earlier ones.
        fence = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="fence-1")
        fence.delete()
        before = len(watch.events)
        for _ in range(5):
            midi.scan()
        fence = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="fence-2")
        fence.delete()
        wait_for(lambda: any(name.startswith("fence-2") and not up for name, up in watch.events), 5,
                 "the second fence client to come and go")
        during = [name for name, up in watch.events[before:] if not name.startswith("fence")]
        assert during == [], f"scans made JACK clients come and go: {during}"
    finally:
        midi.stop()
        watch.close()


def test_a_stuck_handler_holds_up_no_jack_cycle_and_loses_no_midi(jack_server):
    """MIDI waits in rtmidi's queue, not in JACK's real-time thread: while the handler is stuck
    (the interpreter busy elsewhere, here a handler that blocks for a second), JACK goes on
    taking the controller's messages, and every one of them arrives, in order."""
    got: list[list[int]] = []
    stuck = threading.Event()

    def handler(message: list[int], at: float) -> None:
        if not got:
            stuck.set()
            threading.Event().wait(1.0)  # the stand-in for a handler held up for a second
        got.append(message)

    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="test-keys")
    before = set(sender.get_ports())
    midi = MidiInput(handler, virtual=True, api="jack")
    assert midi.start()

    def ours() -> str | None:  # "mrtd:in", or "mrtd-01:in" beside another mrtd client
        return next((p for p in sender.get_ports() if p not in before and p.startswith("mrtd") and p.endswith(":in")), None)

    try:
        wait_for(lambda: ours() is not None, 5, "mrtd's virtual port")
        sender.open_port(sender.get_ports().index(ours()))
        sender.send_message([0x90, 0, 100])
        assert stuck.wait(5), "the first message reached the handler"
        for n in range(1, 200):  # a fast run of notes while the handler is stuck
            sender.send_message([0x90, n % 128, 1 + n % 127])
        wait_for(lambda: len(got) >= 200, 10, "every message")
    finally:
        sender.delete()
        midi.stop()
    assert got == [[0x90, n % 128, 100 if n == 0 else 1 + n % 127] for n in range(200)]
