"""A journal write cut short (the process killed mid-write, the disk full mid-write) never leaves
a journal that does not load: the restart gets the previous music, never a fresh start.

The cut is made by the kernel, not by timing: a child process writes the journal under a file
size limit (RLIMIT_FSIZE) of half the new journal's bytes, so its write stops at exactly that
byte; with SIGXFSZ at its default the kernel kills it there (a crash), ignored (as Python has it)
the write fails with EFBIG (a full disk).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mrtd.core.journal import Journal, MusicState, read

BEFORE = MusicState(cue="intro", prompts={"rain": "soft rain"}, mix={"rain": 1.0}, params={"temperature": 1.1})
# Big enough that half of it is a cut in the middle of the prompts, well inside the file.
AFTER = MusicState(cue="verse", prompts={f"prompt{i}": f"texture number {i}, slowly evolving" for i in range(60)},
                   mix={f"prompt{i}": 1.0 for i in range(60)}, params={"temperature": 1.4})

# The child: journal BEFORE, then write AFTER (`writes` times, each a little different) with the
# file size limit at half its bytes. `crash`: SIGXFSZ kills it at that byte; else the writes fail.
CHILD = """
import os, resource, signal, sys
from mrtd.core.journal import Journal, MusicState
path, before, after, mode, writes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash by SIGXFSZ leaves no core file
journal = Journal(path)
journal.offer(MusicState.model_validate_json(before))
assert journal.flush()
after = MusicState.model_validate_json(after)
if mode == "crash":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
if mode == "after-rename":
    rename = os.replace
    def rename_then_die(source, target):
        rename(source, target)
        os.kill(os.getpid(), signal.SIGKILL)  # a power cut the moment the new journal is in place
    os.replace = rename_then_die
else:
    half = len(after.model_dump_json().encode()) // 2
    resource.setrlimit(resource.RLIMIT_FSIZE, (half, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
for n in range(writes):
    journal.offer(after.model_copy(update={"params": {"temperature": 1.4 + n / 100}}))
    journal.flush()
print("failing:", journal.failing)
"""


def _write_in_a_child(folder: Path, mode: str, writes: int = 1) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(folder / "journal.json"), BEFORE.model_dump_json(), AFTER.model_dump_json(),
         mode, str(writes)],
        cwd=folder, capture_output=True, text=True, timeout=60)


def test_a_process_killed_in_the_middle_of_a_write_leaves_the_previous_journal(tmp_path):
    child = _write_in_a_child(tmp_path, "crash")
    assert child.returncode == -signal.SIGXFSZ, f"the child was to die mid-write: {child.returncode} {child.stderr}"
    half = len(AFTER.model_dump_json().encode()) // 2
    assert half in [p.stat().st_size for p in tmp_path.iterdir()], "the write was cut at half its bytes"
    assert read(tmp_path / "journal.json") == BEFORE, "the restart gets the music before the cut write"
    assert Journal(tmp_path / "journal.json").load() == BEFORE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json"], "the next start removes the cut write"


def test_a_disk_full_in_the_middle_of_writes_leaves_the_previous_journal_and_no_temporary_files(tmp_path):
    """An hour of a full disk (the journal retries each interval) neither breaks the journal on
    disk nor fills the folder with the half-written attempts."""
    child = _write_in_a_child(tmp_path, "disk-full", writes=50)
    assert child.returncode == 0, child.stderr
    assert "File too large" in child.stdout, "every write failed, and the journal said why"
    assert read(tmp_path / "journal.json") == BEFORE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json"], "no temporary file left behind"


def test_a_process_killed_right_after_the_write_leaves_the_new_journal(tmp_path):
    child = _write_in_a_child(tmp_path, "after-rename")
    assert child.returncode == -signal.SIGKILL, f"the child was to die after the rename: {child.stderr}"
    assert read(tmp_path / "journal.json").cue == "verse", "the write that completed is the one restored"


def test_many_writes_leave_one_file(tmp_path):
    journal = Journal(tmp_path / "state" / "journal.json")
    for n in range(200):
        journal.offer(AFTER.model_copy(update={"params": {"temperature": 0.5 + n / 200}}))
        assert journal.flush()
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["journal.json"]
    assert read(journal.path).params == {"temperature": 0.5 + 199 / 200}


def test_the_new_journal_reaches_the_disk_before_it_replaces_the_old(tmp_path, monkeypatch):
    """What survives a power cut, checked by the order of the calls (a real power cut cannot be
    made here): the new file's bytes are fsynced, whole, before the rename puts it in place, and
    the folder is fsynced after it (else the rename itself may be lost). Without the first fsync
    a cut just after the rename can leave an empty journal on many filesystems."""
    events: list[tuple[str, int, int]] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        fsync(fd)
        status = os.fstat(fd)
        events.append(("fsync", status.st_ino, status.st_size))

    def recording_replace(source, target) -> None:
        events.append(("rename", os.stat(source).st_ino, os.stat(source).st_size))
        replace(source, target)

    path = tmp_path / "journal.json"
    journal = Journal(path)
    journal.offer(BEFORE)
    assert journal.flush()
    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    journal.offer(AFTER)
    assert journal.flush()
    monkeypatch.undo()
    written = os.stat(path)
    size = len(AFTER.model_dump_json().encode())
    assert written.st_size == size
    renames = [i for i, event in enumerate(events) if event[0] == "rename"]
    assert len(renames) == 1, events
    rename = renames[0]
    assert events[rename][1] == written.st_ino, "the file renamed into place is the journal"
    assert ("fsync", written.st_ino, size) in events[:rename], "its whole contents fsynced before the rename"
    folder = os.stat(tmp_path).st_ino
    assert any(event[:2] == ("fsync", folder) for event in events[rename + 1:]), "the folder fsynced after the rename"

