"""The musical clock: quantized actions on an injected (frame-by-frame) clock, Tidal's cycle, status.

ControlState is driven one frame at a time here, so "the next bar" is a frame
number we can compute: at 120 BPM a beat is 0.5 s = 12.5 frames of 40 ms, and
a 4/4 bar is exactly 50 frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import wait_for, probed_daemon
from mrtd.core.scenes import SceneHost
from mrtd.style.cache import CachedEmbedder, EmbeddingCache
from mrtd.control import commands as c
from mrtd.control.state import ControlState
from mrtd.control.tempo import ALIGN_TOLERANCE, MusicalClock
from mrtd.frame import FRAME_SECONDS
from mrtd.inputs.osc.table import ROUTES, Envelope
from mrtd.style.embedder import BuiltinEmbedder
from osc_probe import bundle, message
from style_fakes import builtin_control


class Host:
    """What the OSC table asks of the daemon, forwarding to a ControlState; cues go to a real SceneHost."""

    def __init__(self, state: ControlState, scenes: SceneHost | None = None) -> None:
        self.state = state
        self.scenes = scenes

    def submit(self, command: c.Command, due: float | None, answer=None, account=None) -> None:
        self.state.submit(command, due, account)

    def cue(self, name: str | None, due: float | None, when: tuple[str, int] | None = None, answer=None) -> None:
        assert self.scenes is not None, "this test loads no scene"
        self.scenes.cue(name, due, when, answer)


def scene_host(state: ControlState, scene: Path) -> SceneHost:
    """The daemon's SceneHost on `state`, with `scene` loaded (its worker not started: loads run here)."""
    host = SceneHost(state, CachedEmbedder(BuiltinEmbedder(), EmbeddingCache(None)), scene_dir=str(scene.parent), audio_dir=str(scene.parent))
    host.load(scene)
    return host


def send(host: Host, address: str, *args: Any) -> None:
    ROUTES[address].handle(host, list(args), Envelope(address, None, ("127.0.0.1", 9)))  # type: ignore[arg-type]


def run_frames(state: ControlState, frames: range, watch=None) -> dict[int, Any]:
    """Build frames one by one (begin_frame, then the conditioning) and note `watch(state)` each frame."""
    seen = {}
    for frame in frames:
        state.begin_frame(frame)
        state.frame_conditioning()
        if watch is not None:
            seen[frame] = watch(state)
    return seen


def first_frame(seen: dict[int, Any], condition) -> int:
    return next(frame for frame, value in sorted(seen.items()) if condition(value))


def test_a_bar_is_fifty_frames_at_120_bpm():
    clock = MusicalClock(120.0, 4)
    assert clock.beats_per_frame == pytest.approx(0.08)
    assert clock.frames_until("bar") == 50  # from the very downbeat: the next one
    assert clock.frames_for(2, "bar") == 100 and clock.frames_for(3, "beat") == 38  # 37.5 rounds to 38


def test_at_bar_lands_on_the_bars_frame():
    state = builtin_control()
    host = Host(state)
    run_frames(state, range(0, 7))
    send(host, "/mrt/at", "bar", "/mrt/temperature", 2.0)  # mid-bar: waits for bar 2
    send(host, "/mrt/at", "2 bars", "/mrt/topk", 9)  # the second bar line ahead: bar 3
    send(host, "/mrt/at", "beat", "/mrt/cfg/notes", 0.5)  # the next beat: 12.5 frames in, so frame 12
    seen = run_frames(state, range(7, 120), lambda s: (s.values["temperature"], s.values["top_k"], s.values["cfg_notes"]))
    assert first_frame(seen, lambda v: v[0] == 2.0) == 50
    assert first_frame(seen, lambda v: v[1] == 9) == 100
    # Beat 1 starts 12.5 frames in: inside frame 12, which is where it applies.
    assert first_frame(seen, lambda v: v[2] == 0.5) == 12
    assert state.clock.bar == 3 and state.clock.beat_in_bar == 2  # frame 119: beat 9.52


def test_cue_on_the_bar_and_in_bars(tmp_path):
    scene = tmp_path / "song.yaml"
    scene.write_text("name: song\nprompts: {a: alpha, b: beta}\ncues:\n"
                     "  - {name: intro, mix: {a: 1}}\n  - {name: verse, mix: {b: 1}}\n  - {name: chorus, mix: {a: 1}}\n")
    state = builtin_control()
    scenes = scene_host(state, scene)
    host = Host(state, scenes)
    run_frames(state, range(0, 61))  # into bar 2
    send(host, "/mrt/cue", "verse", "bar")
    send(host, "/mrt/cue/next", "4 bars")
    run_frames(state, range(61, 320))
    assert list(scenes.player.fired) == [(100, "verse"), (250, "chorus")]


def test_a_mix_fade_in_bars_starts_on_the_bar_and_lasts_two_bars():
    state = builtin_control()
    host = Host(state)
    embedder = BuiltinEmbedder()
    for name, weight in (("a", 1.0), ("b", 0.0)):
        state.apply_now(c.DefinePrompt(name, name, embedder.embed_text(name), weight))
    run_frames(state, range(0, 20))
    send(host, "/mrt/at", "bar", "/mrt/mix", "a", 0.0, "b", 1.0, "2 bars")
    seen = run_frames(state, range(20, 200), lambda s: s.style.weights()["b"])
    assert first_frame(seen, lambda b: b > 0) == 50  # the fade starts on bar 2...
    assert first_frame(seen, lambda b: b == 1.0) == 149  # ...and is complete as bar 4 begins (frame 150)
    assert seen[99] == pytest.approx(0.5)  # halfway after one bar


def test_the_tempo_and_meter_change_the_bar_length():
    state = builtin_control()
    host = Host(state)
    send(host, "/mrt/tempo", 100.0, 3)  # 3/4 at 100 BPM: a bar is 1.8 s = 45 frames
    run_frames(state, range(0, 1))
    send(host, "/mrt/at", "bar", "/mrt/drums", 1)
    seen = run_frames(state, range(1, 100), lambda s: s.values["drums"])
    assert first_frame(seen, lambda d: d == 1) == 45


def test_align_nudges_small_errors_and_jumps_large_ones():
    clock = MusicalClock(120.0, 4)
    for _ in range(10):
        clock.advance()
    assert not clock.align(clock.beat + 0.1)  # within tolerance: absorbed over the next frames
    beats = [clock.beat]
    for _ in range(30):
        clock.advance()
        beats.append(clock.beat)
    steps = np.diff(beats)
    assert np.all(steps > 0.08 * 0.89) and np.all(steps < 0.08 * 1.11)  # never more than 10% off the tempo
    assert beats[-1] == pytest.approx(0.8 + 0.1 + 30 * 0.08)  # the error is gone
    assert clock.align(100.0)  # far off: a jump
    assert clock.beat == 100.0 and clock.bar == 26
    assert clock.align(100.01, tolerance=0.0) and clock.beat == 100.01  # forced (a transport start)
    assert ALIGN_TOLERANCE < 0.5


@pytest.fixture
def rig(tmp_path):
    with probed_daemon(tmp_path, midi=False) as rig:
        yield rig


def test_tidal_cycles_set_the_tempo_and_pull_the_phase(rig):
    """Bundles as Tidal sends them: timetagged 0.2 s ahead, named arguments with cps, cycle and delta."""
    daemon, engine, probe = rig
    cps = 0.5625  # 135 BPM
    bpm = cps * 240.0
    seconds_per_cycle = 1.0 / cps
    first = time.time() + 0.2
    events = []
    for i in range(6):  # a quarter-cycle pattern: d1 $ n "0*4" # cps 0.5625
        cycle = 10.0 + i * 0.25
        due = first + i * 0.25 * seconds_per_cycle
        events.append((cycle, due))
        probe.send_raw(bundle(due, message("/mrt/event", "cps", cps, "cycle", cycle, "delta", 0.444, "n", 0.0)))
    wait_for(lambda: daemon.control.frame_of(time.time()) > daemon.control.frame_of(events[-1][1]) + 1, 5, "the last event to be heard")
    assert daemon.control.late == 0
    frame_of = daemon.control.frame_of
    beats_per_frame = bpm / 60.0 * FRAME_SECONDS
    for cycle, due in events:
        position = frame_of(due)
        frame = int(position)
        heard = engine.seen[frame]
        assert heard.bpm == pytest.approx(bpm)
        # The beat at the frame's start, plus the way into the frame where the event falls, is cycle * 4.
        assert heard.beat + (position - frame) * beats_per_frame == pytest.approx(cycle * 4.0, abs=0.02)
    # Between events the beat runs at the tempo: no frame steps back or leaps.
    first_frame = int(frame_of(events[0][1]))
    beats = [engine.seen[k].beat for k in range(first_frame, int(frame_of(events[-1][1])) + 1)]
    assert np.all(np.diff(beats) == pytest.approx(beats_per_frame, rel=0.11))


def test_status_reports_the_musical_clock(rig):
    daemon, engine, probe = rig
    probe.send("/mrt/tempo", 90.0)
    wait_for(lambda: daemon.control.clock.bpm == 90.0, 5, "the tempo")
    reply = probe.request("/mrt/status", "/mrt/status")
    fields = dict(zip(reply[::2], reply[1::2]))
    assert fields["bpm"] == pytest.approx(90.0)
    assert isinstance(fields["bar"], int) and fields["bar"] >= 1
    assert 1 <= fields["beat"] <= 4
    assert 0.0 <= fields["phase"] < 1.0
    assert fields["tempo_source"] == "internal"
    # ...and as a subscription: /mrt/beat bar beat phase bpm on every new beat.
    start = probe.transcript.mark()
    probe.send("/mrt/subscribe")
    first = probe.transcript.wait_for_first("/mrt/beat", since=start).args
    assert first[3] == pytest.approx(90.0) and 1 <= first[1] <= 4
