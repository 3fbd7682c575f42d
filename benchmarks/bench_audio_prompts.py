"""A 250 MB WAV as a scene's audio prompt, loaded into a playing daemon: before and after, in one run.

    .venv/bin/python benchmarks/bench_audio_prompts.py [--before REV]

For each case (16-bit stereo, 8-bit mono; 48 kHz, 250 MB, sparse: 31 s of tone
then a hole) a fresh process starts a daemon (synth engine, real-time paced null
output), plays a second, then loads a scene whose prompt is that file and plays a
second more. It reports the daemon process's peak RSS growth over the load
(VmHWM, reset before it), the reader helper's own peak where there is one, the
load's seconds and the underruns. "before" runs the same measurement on REV's
code (extracted with `git archive`; default: the last commit that decoded whole
files in the daemon), "after" on this tree. Needs about 6 GB free for "before".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

root = Path(__file__).resolve().parent.parent
BEFORE = "65235d9"  # decoded the whole file in the daemon, then float64 (issue 26, item 4)
CASES = {"16-bit stereo": (2, 2), "8-bit mono": (1, 1)}


def measure(case: str, work: Path) -> dict:
    sys.path.insert(0, str(root / "tests"))
    from big_audio import big_wav, scene_with
    from test_scene_hostile import reset_peak, rss_bytes

    from mrtd.app.daemon import Daemon, DaemonConfig

    channels, width = CASES[case]
    folder = work / "scenes"
    folder.mkdir()
    (folder / "calm.yaml").write_text("name: calm\nprompts: {a: warm pads}\ncues:\n  - {at: 0, mix: {a: 1}}\n")
    big_wav(folder / "big.wav", channels, width)
    scene = scene_with(folder, "big.wav")
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, scene=str(folder / "calm.yaml"),
                                 scene_dir=str(folder), cache_dir=str(work / "cache"), record_dir=str(work / "rec")))
    daemon.start()
    try:
        _wait(lambda: daemon.status()["frames"] > 25)
        underruns = daemon.status()["underruns"]
        reset_peak()
        before = rss_bytes()
        started = time.perf_counter()
        daemon.scenes.load(scene)
        seconds = time.perf_counter() - started
        grown = rss_bytes() - before
        frames = daemon.status()["frames"]
        _wait(lambda: daemon.status()["frames"] > frames + 25)
        underruns = daemon.status()["underruns"] - underruns
        helper = None
        try:
            from mrtd.style.audio_reader import shared_reader

            pid = shared_reader().pid
            if pid is not None:
                line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM"))
                helper = int(line.split()[1]) * 1024
        except ImportError:
            pass  # before: no reader process
    finally:
        daemon.stop()
    return {"daemon_mb": grown / 1e6, "helper_mb": None if helper is None else helper / 1e6, "seconds": seconds, "underruns": underruns}


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not play")
        time.sleep(0.02)


def run_side(tree: Path, case: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="mrtd-bigwav-") as work:
        env = {**os.environ, "PYTHONPATH": str(tree / "daemon")}
        done = subprocess.run([sys.executable, __file__, "--measure", case, "--work", work], env=env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return {"failed": (done.stderr.strip().splitlines() or ["?"])[-1]}
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--measure")
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.work))))
        return 0
    with tempfile.TemporaryDirectory(prefix="mrtd-before-") as old:
        archive = subprocess.run(["git", "-C", str(root), "archive", args.before, "daemon"], capture_output=True, check=True).stdout
        tarfile.open(fileobj=BytesIO(archive)).extractall(old, filter="data")
        print(f"{'case':14s} {'code':7s} {'daemon peak +MB':>15s} {'helper peak MB':>14s} {'load s':>7s} {'underruns':>9s}")
        for case in CASES:
            for side, tree in (("before", Path(old)), ("after", root)):
                result = run_side(tree, case)
                if "failed" in result:
                    print(f"{case:14s} {side:7s} failed: {result['failed']}")
                    continue
                helper = "-" if result["helper_mb"] is None else f"{result['helper_mb']:.0f}"
                print(f"{case:14s} {side:7s} {result['daemon_mb']:15.1f} {helper:>14s} {result['seconds']:7.2f} {result['underruns']:9d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
