"""A take can never fill the disk silently (issue 26, item 9).

A full disk ends the take cleanly (the WAV's header patched, so the file is valid), status and
the page say so (`record_error`), and the journal, in its own folder, keeps being written. A
free-space floor keeps a take from using the last of the disk; a maximum length ends a take by
itself. The full disk is real: a 1 MB tmpfs, mounted in a private mount namespace.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import textwrap
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import probed_daemon, wait_for
from mrtd.core.journal import Journal, MusicState
from mrtd.audio.sinks import SinkError, TakeEnded, WavDestination
from mrtd.frame import SAMPLE_RATE

TESTS = Path(__file__).parent
HEADER_BYTES = 80  # GrowingWav's header: RIFF, JUNK (room for ds64), fmt, data


def _can_mount() -> bool:
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode == 0


FULL_DISK = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from conftest import probed_daemon, wait_for
    folder, full = Path({folder!r}), Path({full!r})
    with probed_daemon(folder, record_dir=str(full), state_dir=str(folder / "state"), record_min_free_mb=0) as (daemon, engine, probe):
        assert probe.request("/mrt/record/start", "/mrt/record/started", "take") == ["take.wav"]
        recording = daemon.status()["recording"]
        wait_for(lambda: daemon.status()["record_error"], 60, "the take to end on the full disk")
        status = daemon.status()
        writes = daemon.journal.writes
        probe.send("/mrt/temperature", 0.42)  # a state change after the disk filled
        wait_for(lambda: daemon.journal.writes > writes, 10, "the journal to write the change")
        journal = json.loads((folder / "state" / "journal.json").read_text())
        print(json.dumps({{"recording_before": recording, "recording": status["recording"],
                          "record_error": status["record_error"], "journal_temperature": journal["params"]["temperature"]}}))
""")


@pytest.mark.skipif(os.geteuid() != 0 or not _can_mount(), reason="needs root and a private mount namespace (CI has both)")
def test_a_full_disk_ends_the_take_cleanly_says_so_and_the_journal_goes_on(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    script = FULL_DISK.format(tests=str(TESTS), folder=str(tmp_path), full=str(full))
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           f"mount -t tmpfs -o size=1m tmpfs {full} && exec {sys.executable} -c \"$0\" && ls -l {full}", script],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["recording_before"].endswith("take.wav")
    assert result["recording"] == "", "status no longer says recording"
    assert "No space left on device" in result["record_error"], result
    assert result["journal_temperature"] == pytest.approx(0.42), "the change after the disk filled was journaled"


def test_a_full_disk_leaves_a_valid_wav(tmp_path):
    """The same, at the file: a write that fails part-way (EFBIG from RLIMIT_FSIZE in a child, no root
    needed) leaves a WAV whose header names exactly the whole frames on disk."""
    script = textwrap.dedent(f"""
        import resource, signal, threading, numpy as np, sys
        sys.path.insert(0, {str(TESTS)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill, as ENOSPC behaves
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_001, 300_001))
        from mrtd.audio.sinks import WavDestination
        wav = WavDestination({str(tmp_path / 'take.wav')!r})
        block = np.full((1000, 2), 0.25, np.float32)
        try:
            while True:
                wav.write(block, threading.Event(), None)
        except OSError as exc:
            print(exc.strerror)
        finally:
            wav.close()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "File too large" in done.stdout, done.stdout + done.stderr
    path = tmp_path / "take.wav"
    data = path.read_bytes()
    frames = (len(data) - HEADER_BYTES) // 4
    assert (len(data) - HEADER_BYTES) % 4 == 0, "no part-frame at the end"
    assert struct.unpack_from("<I", data, HEADER_BYTES - 4)[0] == frames * 4, "the header names what is on disk"
    with wave.open(str(path)) as reader:
        assert reader.getnframes() == frames > 70_000
        assert np.all(np.frombuffer(reader.readframes(frames), "<i2") == round(0.25 * 32767))


def test_no_take_starts_under_the_free_space_floor(tmp_path):
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    with probed_daemon(tmp_path, record_min_free_mb=free / 1e6 + 1e6) as (daemon, engine, probe):
        error = probe.request("/mrt/record/start", "/mrt/error", "take")
        assert error[0] == "/mrt/record/start" and "under the floor" in error[1] and "record_min_free_mb" in error[1], error
        assert daemon.status()["recording"] == ""
    assert not any((tmp_path / "recordings").glob("*.wav")), "no empty file left behind"


def test_a_take_ends_when_its_disk_drops_under_the_floor(tmp_path):
    room = [10_000_000]
    now = [0.0]
    wav = WavDestination(str(tmp_path / "take.wav"), min_free_bytes=5_000_000, free=lambda fd: room[0], clock=lambda: now[0])
    block = np.zeros((1920, 2), np.float32)
    for _ in range(30):
        now[0] += 0.04
        wav.write(block, threading.Event(), None)
    room[0] = 4_000_000  # something else filled the disk
    now[0] += 1.0
    with pytest.raises(TakeEnded, match="only 4 MB free on the recordings' disk, under the floor of 5 MB"):
        wav.write(block, threading.Event(), None)
    wav.close()
    with wave.open(str(tmp_path / "take.wav")) as reader:
        assert reader.getnframes() == 31 * 1920
    with pytest.raises(SinkError, match="under the floor"):
        WavDestination(str(tmp_path / "next.wav"), min_free_bytes=5_000_000, free=lambda fd: room[0])
    assert not (tmp_path / "next.wav").exists()


def test_a_take_stops_by_itself_at_its_maximum_length(tmp_path):
    with probed_daemon(tmp_path, record_max_s=0.5) as (daemon, engine, probe):
        assert probe.request("/mrt/record/start", "/mrt/record/started", "short") == ["short.wav"]
        wait_for(lambda: daemon.status()["record_error"], 10, "the take to reach its length")
        assert "maximum length of 0.5 s" in daemon.status()["record_error"] and daemon.status()["recording"] == ""
        assert probe.request("/mrt/record/start", "/mrt/record/started", "again") == ["again.wav"], "a new take may start"
        assert daemon.status()["record_error"] == "" and daemon.status()["recording"].endswith("again.wav")
    with wave.open(str(tmp_path / "recordings" / "short.wav")) as reader:
        assert reader.getnframes() == SAMPLE_RATE // 2


def test_a_journal_that_cannot_be_written_says_so_once_and_retries(tmp_path, caplog):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the journal's folder should be")
    journal = Journal(blocker / "journal.json")
    with caplog.at_level(logging.INFO, logger="mrtd.core.journal"):
        for temperature in (0.5, 0.6, 0.7):
            journal.offer(MusicState(params={"temperature": temperature}))
            assert not journal.flush()
        assert len([r for r in caplog.records if "not written" in r.getMessage()]) == 1, "one line, not one a second"
        blocker.unlink()
        assert journal.flush(), "retried, and written once it can be"
        assert any("written again" in r.getMessage() for r in caplog.records)
    assert json.loads((blocker / "journal.json").read_text())["params"]["temperature"] == 0.7
