"""The inside half of tests/test_tempo_link.py: run only in a private network namespace.

Not collected on its own (its name does not start with test_): the outer test
starts pytest on this file inside `unshare --net`, where loopback is the only
interface, so Link's multicast never leaves the machine.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import time

import pytest

from conftest import wait_for


def _loopback_up_with_multicast() -> None:
    """`ip link set lo up multicast on`, without needing iproute2: SIOCSIFFLAGS on lo."""
    SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
    IFF_UP, IFF_RUNNING, IFF_MULTICAST = 0x1, 0x40, 0x1000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP | IFF_RUNNING | IFF_MULTICAST))
    assert [name for _, name in socket.if_nameindex()] == ["lo"], "not in a private namespace"


def link_beat_at(peer, wall: float, quantum: int = 4) -> float:
    """A peer's session beat at wall-clock time `wall` (Link counts in its own clock's microseconds)."""
    now_wall, now_link = time.time(), peer.clock().micros()
    return peer.captureAppSessionState().beatAtTime(int(now_link + (wall - now_wall) * 1e6), quantum)


def test_inside_the_namespace(tmp_path):
    import link

    from engines_for_tests import RecordingEngine
    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.control.commands import SetParam
    from mrtd.audio.clock import FrameClock

    _loopback_up_with_multicast()
    # Different tempos everywhere (the daemon starts at 120), so equal tempos mean one session.
    first, second = link.Link(128.0), link.Link(100.0)
    first.enabled = second.enabled = True
    wait_for(lambda: first.captureAppSessionState().tempo() == second.captureAppSessionState().tempo(), 10,
             "the two peers to share a session")
    engine = RecordingEngine()
    daemon = Daemon(
        DaemonConfig(output="null", osc=None, midi=False, tempo_source="link",
                     scene_dir=str(tmp_path), record_dir=str(tmp_path), cache_dir=str(tmp_path / "cache")),
        engine=engine,
    )
    daemon.start()
    try:
        follower = daemon.link
        wait_for(lambda: follower.peers == 2 and first.numPeers() == 2, 10, "the daemon to join the session")

        def tempo_of(peer) -> float:
            return peer.captureAppSessionState().tempo()

        # Seeing a peer comes before joining its session: Link measures the other timeline first,
        # then every peer settles on one session (whichever Link picks, ours or theirs).
        def one_session() -> bool:
            tempos = [tempo_of(peer) for peer in (first, second, follower.session)]
            return max(tempos) - min(tempos) < 0.01 and engine.seen[-1].bpm == pytest.approx(tempos[0], abs=0.01)

        wait_for(one_session, 10, "one session")
        # The stage's tempo reaches the daemon: a peer moves it, everyone follows.
        state = second.captureAppSessionState()
        state.setTempo(137.0, second.clock().micros())
        second.commitAppSessionState(state)
        wait_for(lambda: engine.seen[-1].bpm == pytest.approx(137.0, abs=0.01) and tempo_of(first) == pytest.approx(137.0, abs=0.01),
                 5, "the daemon and the other peer at 137 BPM")

        # Phase: the beat of each frame, as the daemon made it, is the session's beat when the frame is heard.
        # A tempo change re-times the session; the clock absorbs the phase error within a second or two.
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames >= frames + 60, 5, "2.4 s of frames")
        frame_clock = FrameClock(daemon.playout, daemon.output.time)
        newest = len(engine.seen) - 1
        for frame in range(newest - 10, newest + 1):
            heard_at = frame_clock.wall_time_of_frame(frame)
            for peer in (first, second):
                # Link aligns phase within the quantum (4 beats), not the beat count: two peers'
                # beats may differ by whole bars (seen in CI: 4.33 here, 8.33 there). So compare
                # the position in the bar. 0.02 beats is 9 ms at 137 BPM: tighter than a performer can hear.
                off = (engine.seen[frame].beat - link_beat_at(peer, heard_at) + 2.0) % 4.0 - 2.0
                assert abs(off) <= 0.02, f"frame {frame}: {off:+.3f} beats off the bar's phase"
        assert daemon.control.clock.meter == 4  # Link's quantum: bars line up too

        # The daemon's tempo, set here (OSC, a scene), is proposed to the session and the peers follow.
        daemon.control.submit(SetParam("tempo", 96.0))
        wait_for(lambda: tempo_of(first) == pytest.approx(96.0, abs=0.01) and tempo_of(second) == pytest.approx(96.0, abs=0.01),
                 5, "the peers at 96 BPM")
        frames = daemon.generator.frames
        wait_for(lambda: daemon.generator.frames >= frames + 60, 5, "2.4 s of frames")
        assert engine.seen[-1].bpm == pytest.approx(96.0, abs=0.01)
        frame = len(engine.seen) - 1
        assert engine.seen[frame].beat == pytest.approx(link_beat_at(first, frame_clock.wall_time_of_frame(frame)), abs=0.02)
    finally:
        daemon.stop()
        first.enabled = second.enabled = False
