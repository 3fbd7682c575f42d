"""MIDI panic: CC 123 (All Notes Off) and CC 120 (All Sound Off) on any channel, from a real port.

A DAW sends CC 123 on all 16 channels when its transport stops, and a controller's panic button
sends CC 120: both used to be ignored, leaving notes held for good. A JACK MIDI port plays the
controller here, into the daemon's own virtual port, as tests/test_tempo_midi.py does.
"""

from __future__ import annotations

import pytest

from conftest import wait_for
from engines_for_tests import RecordingEngine
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.conditioning import NOTE_HELD, NOTE_ON_MODEL, NOTE_ONSET

SOUNDING = (NOTE_HELD, NOTE_ONSET, NOTE_ON_MODEL)


@pytest.fixture
def played(tmp_path, jack_server):
    import rtmidi

    engine = RecordingEngine()
    daemon = Daemon(DaemonConfig(output="null", osc=None, midi=True, scene_dir=str(tmp_path), record_dir=str(tmp_path),
                                 cache_dir=str(tmp_path / "cache")), engine=engine)
    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="test-panic")
    before = set(sender.get_ports())
    daemon.start()
    try:
        port = lambda: next((p for p in sender.get_ports() if p not in before and p.startswith("mrtd") and p.endswith(":in")), None)  # noqa: E731
        wait_for(lambda: port() is not None, 5, "mrtd's virtual MIDI port")
        sender.open_port(sender.get_ports().index(port()))
        yield daemon, engine, sender
    finally:
        sender.close_port()
        sender.delete()
        daemon.stop()


def hold(engine, sender, *notes: tuple[int, int]) -> int:
    """Note on for each (channel 1-16, pitch); the frame from which all of them sound."""
    for channel, pitch in notes:
        sender.send_message([0x90 | (channel - 1), pitch, 100])
    wait_for(lambda: engine.seen and all(engine.seen[-1].notes[p] in SOUNDING for _, p in notes), 5, "the notes")
    return len(engine.seen)


@pytest.mark.parametrize("controller", [123, 120])
def test_all_notes_off_and_all_sound_off_release_every_channel_s_notes(played, controller):
    daemon, engine, sender = played
    start = hold(engine, sender, (1, 60), (5, 64), (10, 67))
    sender.send_message([0xB0 | 15, controller, 0])  # on channel 16: none of the notes' channels
    wait_for(lambda: all(engine.seen[-1].notes[p] not in SOUNDING for p in (60, 64, 67)), 5, f"CC {controller} to release them")
    resets = [k for k, seen in enumerate(engine.seen) if k >= start and seen.reset]
    if controller == 120:  # sound off: the context that carries the notes goes too
        assert resets, "CC 120 reset the engine"
    else:
        assert not resets, "CC 123 only releases the notes"
    hold(engine, sender, (2, 62))  # the next note plays: nothing was muted
