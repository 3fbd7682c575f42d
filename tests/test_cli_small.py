"""Small CLI things a newcomer hit: text that looks like a number, and `mrtd devices` with no device."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mrtd.client import parse_arg
from conftest import probed_daemon, wait_for


@pytest.mark.parametrize("text, value", [
    ("123", 123), ("1.5", 1.5), ("warm", "warm"),
    ("s:123", "123"), ("s:1.5", "1.5"), ("s:s:x", "s:x"), ("s:", ""), ("i:7", 7), ("f:1", 1.0),
    ("x:1", "x:1"),
])
def test_a_prefix_gives_an_argument_its_type(text, value):
    got = parse_arg(text)
    assert got == value and type(got) is type(value)


def test_mrtd_send_can_name_a_prompt_with_digits(tmp_path):
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        done = subprocess.run(
            [sys.executable, "-m", "mrtd", "send", "--port", str(daemon.osc.port), "/mrt/prompt", "s:808", "s:909"],
            capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        wait_for(lambda: "808" in daemon.status()["mix"], 5, "a prompt named 808 (text, not the number)")


def test_a_bad_typed_argument_is_refused_before_sending(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mrtd", "send", "--port", "9", "/mrt/topk", "i:many"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "'many' is not a valid int" in done.stderr


def test_devices_says_so_when_there_is_none():
    # No JACK server to reach, and no ALSA card in this container: PortAudio sees nothing.
    env = dict(os.environ, JACK_DEFAULT_SERVER="mrtd-files-nobody-here", JACK_NO_START_SERVER="1")
    done = subprocess.run([sys.executable, "-m", "mrtd", "devices"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and "no audio devices found" in done.stdout, done.stdout + done.stderr


def test_no_sound_card_is_said_in_words_not_portaudios(tmp_path):
    """Without a sound card the default output falls back to null, and says why in one line a user
    can act on, not PortAudio's "Error querying device -1"."""
    env = dict(os.environ, JACK_DEFAULT_SERVER="mrtd-files-nobody-here", JACK_NO_START_SERVER="1")
    probe = ("import logging; logging.basicConfig(format='%(message)s');"
             "from mrtd.audio.outputs import open_output; print(open_output('default').name);"
             "open_output('device:no-such-card')")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.stdout.splitlines() == ["null"], done.stdout + done.stderr
    assert "Error querying" not in done.stderr and "-1" not in done.stderr, done.stderr
    assert ("audio output unavailable: no default output device (no sound card, no JACK server): `mrtd devices` lists "
            "those there are; --output device:NAME picks one, --output null plays to none; playing to the null sink instead") in done.stderr
    assert "audio output unavailable: no output device 'no-such-card': `mrtd devices` lists those there are" in done.stderr


def test_the_status_reply_is_what_docs_osc_md_says(tmp_path):
    from pathlib import Path

    row = next(line for line in (Path(__file__).parent.parent / "docs" / "osc.md").read_text().splitlines()
               if line.startswith("| `/mrt/status` |"))
    assert "replies one /mrt/status message: key value key value" in row
    with probed_daemon(tmp_path) as (daemon, engine, probe):
        [(address, reply)] = probe.exchange("/mrt/status")
        assert address == "/mrt/status", "one message, no /mrt/status/<field>"
        fields = dict(zip(reply[::2], reply[1::2]))
        assert len(reply) % 2 == 0 and all(isinstance(key, str) for key in reply[::2])
    assert fields["record_dir"] == str(tmp_path / "recordings") and fields["scene_dir"] == str(tmp_path / "scenes")
    assert "" not in reply, "an empty value is sent as -"


def test_no_raw_jack_library_noise_when_there_is_no_server():
    probe = ("from mrtd.audio.outputs import import_sounddevice; import_sounddevice().query_devices();"
             "from mrtd.inputs.midi import pick_api; print('api', pick_api('auto'))")
    env = dict(os.environ, JACK_DEFAULT_SERVER="mrtd-files-nobody-here", JACK_NO_START_SERVER="1")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and "api None" in done.stdout, done.stdout + done.stderr
    assert "Cannot connect to server" not in done.stderr and "jack server is not running" not in done.stderr, done.stderr


def test_a_sigterm_that_lands_on_another_thread_still_stops_the_daemon():
    """The kernel may deliver a process's SIGTERM to any thread; Python runs the handler only on
    the main thread, which `mrtd run` keeps asleep waiting for the stop. Delivered to a worker
    thread here on purpose (pthread_kill), the stop must still come, within a second, not after
    the 5 s the wait would otherwise last (or never, for a service with no --seconds)."""
    import signal
    import threading
    import time

    from mrtd.app.cli import wait_for_stop

    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        # Sent from the timer's own thread, to itself, while the main thread waits.
        sender = threading.Timer(0.3, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGTERM))
        started = time.monotonic()
        sender.start()
        wait_for_stop(done, 5.0)
        took = time.monotonic() - started
        sender.join()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert done.is_set(), "the handler ran on the main thread"
    assert took < 1.5, f"the stop came {took:.1f} s after the signal"
