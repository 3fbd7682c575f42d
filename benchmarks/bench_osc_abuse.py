"""OSC abuse: a mixed UDP + TCP fuzz against a playing daemon, and what one UDP address can draw.

    .venv/bin/python benchmarks/bench_osc_abuse.py [--packets 50000] [--rate 4500] [--idle-tcp 3000]

Runs a real daemon (synth engine, real-time paced null output, a WAV beside it)
with OSC on loopback. A separate process sends `--packets` fuzzed UDP packets at
`--rate` (valid controls, garbage, far-future bundles, syncs, huge packets, bad
arguments, new prompts) while opening `--idle-tcp` idle TCP connections and then
closing them all at once. Afterwards the WAV is scanned for gaps (runs of exact
silence) and the daemon's underruns and RSS are read. Then loopback is treated as
an unproven address (as a LAN address is) and one socket asks for everything it
can: the reply-to-request byte ratio and reply bytes/s before and after proving
the address (`/mrt/hello`). All figures print side by side at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import socket
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mrtd.app.daemon import Daemon, DaemonConfig  # noqa: E402
from mrtd.frame import SAMPLE_RATE  # noqa: E402
from mrtd.inputs.osc.admission import ReplyGuard  # noqa: E402
from mrtd.inputs.osc.server import OscConfig  # noqa: E402
from osc_probe import bundle, message  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fuzz_packets(rng: random.Random) -> list[bytes]:
    far = time.time() + 90
    kinds = [
        lambda: message("/mrt/temperature", rng.uniform(0, 3)),
        lambda: message("/mrt/cfg/style", rng.uniform(-1, 7)),
        lambda: message("/mrt/note/on", rng.randrange(128), 100),
        lambda: message("/mrt/note/off", rng.randrange(128)),
        lambda: message("/mrt/temperature", float("nan")),
        lambda: message("/mrt/mix", "nonexistent", 1.0),
        lambda: message("/mrt/weight", rng.randrange(1, 9), 0.5),
        lambda: message("/mrt/sync"),
        lambda: message("/mrt/status"),
        lambda: message("/mrt/subscribe", rng.randrange(20000, 30000)),
        lambda: message("/mrt/prompt", f"p{rng.randrange(200)}", "x" * rng.randrange(1, 1000), 0.0),
        lambda: message("/mrt/nope", 1),
        lambda: bundle(far + rng.random() * 20, message("/mrt/topk", rng.randrange(1, 1024))),
        lambda: bundle(None, *[message("/mrt/sync") for _ in range(100)]),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        lambda: message("/mrt/ping", b"x" * 20000),
    ]
    return [rng.choice(kinds)() for _ in range(2000)]


def _udp_fuzz(port: int, count: int, rate: float) -> None:
    rng = random.Random(14)
    packets = fuzz_packets(rng)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    started = time.monotonic()
    sent = 0
    while sent < count:
        # Whatever is due by now, at once, then sleep to the next 5 ms tick: a sleep per packet
        # (0.2 ms apart) overslept on a busy 2-core machine and reached only ~1,000 packets/s.
        due = min(count, int((time.monotonic() - started) * rate) + 1)
        for i in range(sent, due):
            try:
                sock.sendto(packets[i % len(packets)], ("127.0.0.1", port))
            except OSError:
                pass
        sent = due
        time.sleep(0.005)


def _tcp_abuse(port: int, idle: int, seconds: float) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, idle + 256)), hard))
    conns = []
    for _ in range(idle):
        try:
            conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    # a few hostile streams: a bad size prefix, an endless SLIP frame
    for payload in (struct.pack(">i", 1 << 30), b"\xc0" + b"a" * 70000):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(payload)
        except OSError:
            pass
    time.sleep(max(0.0, seconds / 2))
    for conn in conns:  # all at once
        conn.close()


def wav_gaps(path: str, min_ms: float = 10.0) -> tuple[int, float, float]:
    """(gaps of exact silence >= min_ms, the longest in ms, seconds in the file)."""
    with wave.open(path) as take:
        audio = np.frombuffer(take.readframes(take.getnframes()), dtype="<i2").reshape(-1, 2)
    silent = np.all(audio == 0, axis=1).astype(np.int8)
    edges = np.diff(np.concatenate(([0], silent, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = (ends - starts) * 1000.0 / SAMPLE_RATE
    gaps = lengths[lengths >= min_ms]
    return len(gaps), float(gaps.max()) if len(gaps) else 0.0, len(audio) / SAMPLE_RATE


REQUESTS = {
    "/mrt/sync": message("/mrt/sync"),
    "/mrt/status": message("/mrt/status"),
    "100 x /mrt/sync bundle": bundle(None, *[message("/mrt/sync") for _ in range(100)]),
    "bad /mrt/temperature": message("/mrt/temperature", 9.0),
    "/mrt/ping 200 B": message("/mrt/ping", "x" * 200),
    "/mrt/hello": message("/mrt/hello"),
    "/mrt/subscribe": message("/mrt/subscribe"),  # refused unproven; once proven, pushes count as replies here
}


def _drain(sock: socket.socket, log: list[tuple[float, int]]) -> None:
    while True:
        try:
            log.append((time.monotonic(), len(sock.recv(65536))))
        except (BlockingIOError, TimeoutError):
            return


def draw(port: int, seconds: float, prove: bool, requests: list[bytes]) -> tuple[float, float]:
    """(reply bytes per request byte, reply bytes/s after the first second) for one socket asking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    if prove:
        from pythonosc.osc_message import OscMessage

        sock.settimeout(0.5)
        cookie = None
        for _ in range(20):  # the parse budget may still be spent from the previous phase
            sock.sendto(message("/mrt/hello", 0), ("127.0.0.1", port))  # as large as its answer
            try:
                cookie = OscMessage(sock.recv(65536)).params[0]
                break
            except TimeoutError:
                continue
        if cookie is None:
            return float("nan"), float("nan")
        sock.sendto(message("/mrt/hello", cookie), ("127.0.0.1", port))
        sock.recv(65536)
    sock.setblocking(False)
    sent = 0
    log: list[tuple[float, int]] = []
    started = time.monotonic()
    end = started + seconds
    i = 0
    while time.monotonic() < end:
        packet = requests[i % len(requests)]
        i += 1
        sock.sendto(packet, ("127.0.0.1", port))
        sent += len(packet)
        time.sleep(0.002)
        _drain(sock, log)
    time.sleep(0.3)
    _drain(sock, log)
    finished = time.monotonic()
    sock.close()
    received = sum(n for _, n in log)
    later = sum(n for t, n in log if t >= started + 1.0)
    # Over the time those bytes took to arrive: the 0.3 s drain after the last request included
    # (dividing by the asking time alone overstated the rate by the tail that came in after it).
    return received / max(sent, 1), later / max(finished - started - 1.0, 1e-9)


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the daemon's rate-limited warnings would bury the figures
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=4500.0)
    parser.add_argument("--idle-tcp", type=int, default=3000)
    parser.add_argument("--draw-seconds", type=float, default=3.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mrtd-abuse-"))
    wav = str(folder / "take.wav")
    config = DaemonConfig(engine="synth", output="null", outputs=[f"wav:{wav}"], osc=OscConfig(port=0),
                          scene_dir=str(folder), record_dir=str(folder), cache_dir=str(folder / "cache"), state_dir=str(folder))
    daemon = Daemon(config)
    daemon.start()
    time.sleep(1.0)
    rss_before = rss_mb()
    port = daemon.osc.port
    seconds = args.packets / args.rate
    udp = multiprocessing.Process(target=_udp_fuzz, args=(port, args.packets, args.rate))
    tcp = multiprocessing.Process(target=_tcp_abuse, args=(port, args.idle_tcp, seconds))
    started = time.monotonic()
    udp.start()
    tcp.start()
    rss_peak = rss_before
    udp_s = None
    while udp.is_alive() or tcp.is_alive():
        rss_peak = max(rss_peak, rss_mb())
        if udp_s is None and not udp.is_alive():
            udp_s = time.monotonic() - started
        time.sleep(0.1)
    fuzz_s = time.monotonic() - started
    udp_s = udp_s or fuzz_s
    time.sleep(3.0)  # the far-future bundles are refused, the schedule drains, the queue empties
    rss_after = rss_mb()
    status = daemon.status()

    # The TCP phase's handshakes proved 127.0.0.1 for PROOF_S, so its "unproven" figures were a
    # proven address's (a /mrt/sync drew 20x its size). Measure from a guard that has never heard
    # of loopback, and treats it as any LAN address: what a spoofed source would get.
    kept = daemon.osc.guard
    daemon.osc.guard = daemon.pusher.guard = ReplyGuard(trust_loopback=False)
    ratios = {}
    for name, packet in REQUESTS.items():  # each kind alone, from an unproven address
        ratios[name] = draw(port, 1.0, prove=False, requests=[packet])[0]
        time.sleep(1.2)  # let that address's bucket refill
    worst = max(ratios, key=lambda k: ratios[k])
    ratio_unproven, rate_unproven = draw(port, args.draw_seconds, prove=False, requests=list(REQUESTS.values()))
    time.sleep(1.2)
    ratio_proven, rate_proven = draw(port, args.draw_seconds, prove=True, requests=list(REQUESTS.values()))
    daemon.osc.guard = daemon.pusher.guard = kept
    time.sleep(0.5)
    underruns = daemon.status()["underruns"]
    daemon.stop()
    gaps, longest, heard = wav_gaps(wav)

    c = daemon.osc.counters
    print(f"fuzz: {args.packets} UDP packets asked at {args.rate:.0f}/s, sent at {args.packets / udp_s:.0f}/s "
          f"({udp_s:.1f} s), + {args.idle_tcp} idle TCP connections closed at once; {fuzz_s:.1f} s in all")
    print(f"{'figure':44s} {'value':>12s}")
    rows = [
        ("underruns (playout + device)", underruns),
        ("WAV gaps >= 10 ms of silence", gaps),
        ("longest WAV gap, ms", f"{longest:.1f}"),
        ("WAV seconds", f"{heard:.1f}"),
        ("RSS before / peak / after, MB", f"{rss_before:.0f}/{rss_peak:.0f}/{rss_after:.0f}"),
        ("packets parsed", c.packets),
        ("packets dropped (shed)", c.dropped),
        ("errors / errors suppressed", f"{c.errors}/{c.errors_suppressed}"),
        ("TCP connections refused (over the bound)", c.tcp_refused),
        ("reply batches held (budget or size)", status["osc_replies_held"]),
        ("commands pending after the fuzz", daemon.control.pending()),
        *((f"unproven ratio: {name}", f"{value:.2f}") for name, value in ratios.items()),
        ("largest reply/request byte ratio (unproven)", f"{ratios[worst]:.2f}"),
        ("unproven, mixed: reply/request byte ratio", f"{ratio_unproven:.2f}"),
        ("unproven, mixed: reply B/s after 1 s", f"{rate_unproven:.0f}"),
        ("proven, mixed: reply/request byte ratio", f"{ratio_proven:.2f}"),
        ("proven, mixed: reply B/s after 1 s", f"{rate_proven:.0f}"),
    ]
    for name, value in rows:
        print(f"{name:44s} {value!s:>12s}")


if __name__ == "__main__":
    main()
