"""Hostile scene files sent over OSC to a running daemon: time to refuse, peak RSS growth, underruns.

    .venv/bin/python benchmarks/bench_hostile_scenes.py

A real daemon (synth engine, real-time paced null output) plays while each
hostile scene (tests/test_scene_hostile.py makes them) is loaded over UDP;
then the biggest valid scene the schema allows in kind (MAX_PROMPTS prompts, most
as raw embeddings and some as texts of the longest length, MAX_CUES timed cues
each setting every prompt's weight, MAX_MAPPINGS mappings: about 1.2 MB) is loaded while
/mrt/ping round trips are timed, to show the load runs off the OSC loop.
Targets: each refused within 1 s and 50 MB, 0 underruns throughout. The parses run in
a helper process (core/scene/isolated.py): the RSS column is the daemon's, and the
helper's own peak is printed at the end.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(root / "daemon"), str(root / "tests")]

from pythonosc.osc_message import OscMessage  # noqa: E402

from mrtd.app.daemon import Daemon, DaemonConfig  # noqa: E402
from mrtd.control.state import MAX_PROMPTS  # noqa: E402
from mrtd.inputs.osc.server import OscConfig  # noqa: E402
from mrtd.core.scene.schema import MAX_CUES, MAX_MAPPINGS, MAX_PROMPT_TEXT_CHARS  # noqa: E402
from osc_probe import message  # noqa: E402
from test_scene_hostile import hostile_cases, reset_peak, rss_bytes  # noqa: E402


def big_valid_scene() -> str:
    """A scene at the schema's limits: every prompt, cue and mapping it may have."""
    vector = "[" + ", ".join(f"{(i % 17) / 17 - 0.5:.6f}" for i in range(768)) + "]"
    texts = 8  # text prompts are encoded on load: a few, at the longest length, keep the load quick
    text = ("warm analogue pads, slow evolving strings and a distant choir " * 20)[:MAX_PROMPT_TEXT_CHARS]
    prompts = [f"  p{i}: {text!r}\n" for i in range(texts)]
    prompts += [f"  p{i}: {{embedding: {vector}}}\n" for i in range(texts, MAX_PROMPTS)]
    cues = [f"  - {{name: c{i}, at: {i}, mix: {{" + ", ".join(f"p{k}: 0.{(i + k) % 9 + 1}" for k in range(MAX_PROMPTS)) + "}}\n"
            for i in range(MAX_CUES)]  # each cue sets every prompt's weight
    mappings = [f"  - {{osc: {{address: /bench/{i}}}, weight: p{i % MAX_PROMPTS}}}\n" for i in range(MAX_MAPPINGS)]
    return "name: big\nloop: true\nprompts:\n" + "".join(prompts) + "cues:\n" + "".join(cues) + "mappings:\n" + "".join(mappings)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="mrtd-hostile-"))
    folder, outside = work / "scenes", work / "outside"
    folder.mkdir()
    outside.mkdir()
    cases = hostile_cases(folder, outside)
    (folder / "good.yaml").write_text("name: good\nprompts: {a: warm pads}\ncues:\n  - {name: one, at: 0, mix: {a: 1}}\n")
    big = big_valid_scene()
    (folder / "bigvalid.yaml").write_text(big)
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=OscConfig(port=0), scene=str(folder / "good.yaml"),
                                 scene_dir=str(folder), record_dir=str(work / "rec"), cache_dir=str(work / "cache"), midi=False))
    daemon.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    target = ("127.0.0.1", daemon.osc.port)
    sock.sendto(message("/mrt/subscribe"), target)
    time.sleep(1.0)

    def wait_reply(address: str, timeout: float = 5.0) -> tuple[float, list]:
        sock.settimeout(timeout)
        started = time.perf_counter()
        while True:
            msg = OscMessage(sock.recv(65536))
            if msg.address == address:
                return time.perf_counter() - started, list(msg.params)

    def drain() -> None:
        # Subscribed, this socket hears each refusal twice (the answer and the push): the copy
        # left over would be read as the next case's answer, timing it at a fraction of a ms.
        sock.setblocking(False)
        try:
            while True:
                sock.recv(65536)
        except BlockingIOError:
            pass
        finally:
            sock.setblocking(True)

    try:
        print(f"{'case':10s} {'refused ms':>10s} {'RSS +MB':>8s} {'underruns':>9s}")
        for case in cases:
            underruns = daemon.status()["underruns"]
            reset_peak()
            before = rss_bytes()
            drain()
            sent = time.perf_counter()
            sock.sendto(message("/mrt/scene/load", case), target)
            _, reply = wait_reply("/mrt/error")
            seconds = time.perf_counter() - sent
            time.sleep(0.3)
            print(f"{case:10s} {seconds * 1000:10.1f} {(rss_bytes() - before) / 1e6:8.1f} {daemon.status()['underruns'] - underruns:9d}")
        underruns = daemon.status()["underruns"]
        sock.sendto(message("/mrt/scene/load", "bigvalid"), target)
        started, pings = time.perf_counter(), []
        while daemon.control.scene != "big" and time.perf_counter() - started < 30:
            sock.sendto(message("/mrt/ping", 1), target)
            pings.append(wait_reply("/mrt/pong")[0])
            time.sleep(0.02)
        loaded = time.perf_counter() - started
        time.sleep(0.5)
        print(f"valid scene of {len(big) / 1e6:.1f} MB loaded in {loaded:.2f} s; {len(pings)} pings meanwhile, "
              f"slowest {max(pings) * 1000:.1f} ms; underruns {daemon.status()['underruns'] - underruns}")
        pid = daemon.scenes.parser_pid
        if pid is not None:  # the helper process the parses ran in: its peak, not the daemon's
            peak = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
            print(f"scene parser process: peak RSS {int(peak.split()[1]) / 1024:.0f} MB over all of the above")
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
