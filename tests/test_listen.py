"""Listening: notes, chords and the beat heard become the model's notes and tempo, the last bars
its `listen` prompt. The analysis is driven with generated signals through `ListenAnalysis`,
the code the daemon's analysis thread runs; the live path plays a `wav:` source into a daemon."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from listen_signals import RATE, analyse, clicks, melody, noise, progression

from mrtd.control.commands import AlignBeat, NoteOff, NoteOn, SetParam
from mrtd.inputs.listen.notes import TEMPLATES

import aubio  # noqa: E402,F401  (the listen extra, in .[test]: a missing one fails here, never skips)


def held_timeline(out, total_samples: int, hop: int) -> list[frozenset[int]]:
    """The notes held after each hop, from the commands the analysis returned."""
    by_position = dict(out)
    held: set[int] = set()
    timeline = []
    for end in range(hop, total_samples + 1, hop):
        for command in by_position.get(end, []):
            if isinstance(command, NoteOn):
                held.add(command.pitch)
            elif isinstance(command, NoteOff):
                held.discard(command.pitch)
        timeline.append(frozenset(held))
    return timeline


def delays_to_each_change(signal, hop: int = RATE // 100) -> list[float]:
    """Seconds from each event (a chord or note starting) to the first hop that holds exactly its notes."""
    _, out = analyse(signal.audio)
    timeline = held_timeline(out, len(signal.audio), hop)
    delays = []
    for start, pitches in signal.events:
        first = start // hop
        found = next((i for i in range(first, len(timeline)) if timeline[i] == frozenset(pitches)), None)
        assert found is not None, f"{pitches} starting at {start / RATE:.2f} s never held"
        delays.append((found + 1) * hop / RATE - start / RATE)
    return delays


@pytest.mark.parametrize("kind", ["sine", "plucked"])
def test_a_progression_is_held_within_one_beat_of_each_change(kind):
    beat_s = 0.5
    signal = progression(kind, beat_s=beat_s)
    delays = delays_to_each_change(signal)
    p50, p99 = np.percentile(delays, 50), np.percentile(delays, 99)
    print(f"{kind}: chord change to notes held, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert max(delays) < beat_s, delays


@pytest.mark.parametrize("kind", ["sine", "plucked"])
def test_a_chord_stays_held_while_it_rings(kind):
    # From one beat after each change to the next change, the chord's notes and nothing else.
    signal = progression(kind, beat_s=0.5)
    _, out = analyse(signal.audio)
    hop = RATE // 100
    timeline = held_timeline(out, len(signal.audio), hop)
    ends = [start for start, _ in signal.events[1:]] + [len(signal.audio)]
    for (start, pitches), end in zip(signal.events, ends):
        ringing = timeline[(start + RATE // 2) // hop : end // hop - 1]
        wrong = [i for i, notes in enumerate(ringing) if notes != frozenset(pitches)]
        assert not wrong, f"{pitches} from {start / RATE:.2f} s: other notes in {len(wrong)} hops"


def test_a_struck_chord_is_an_onset_each_time_and_a_held_one_once():
    # Plucked: each beat's attack starts the chord's notes again (4 per chord); sines held for
    # the bar: one start per chord.
    for kind, per_chord in (("plucked", 4), ("sine", 1)):
        signal = progression(kind, beat_s=0.5, laps=1)
        _, out = analyse(signal.audio)
        starts = [c for _, commands in out for c in commands if isinstance(c, NoteOn) and c.pitch == 67]
        sounding_67 = sum(1 for _, pitches in signal.events if 67 in pitches)  # C, G, C
        assert len(starts) == per_chord * sounding_67, (kind, len(starts))


@pytest.mark.parametrize("kind", ["plucked", "sine"])
def test_a_melody_is_followed_note_by_note(kind):
    signal = melody(kind=kind, beat_s=0.4)
    delays = delays_to_each_change(signal)
    print(f"melody {kind}: p50 {np.percentile(delays, 50) * 1000:.0f} ms, p99 {np.percentile(delays, 99) * 1000:.0f} ms")
    assert max(delays) < 0.4, delays


@pytest.mark.parametrize("audio", [
    np.zeros(RATE * 4),
    noise(4, 0.2),
    noise(4, 0.02),
    np.cumsum(noise(4, 0.02)) * 0.01,  # brown noise: most of its energy low
    clicks(120, 4),
], ids=["silence", "white noise", "quiet noise", "brown noise", "clicks"])
def test_silence_noise_and_clicks_start_no_notes(audio):
    analysis, out = analyse(audio)
    assert not [c for _, commands in out for c in commands if isinstance(c, NoteOn)]
    assert analysis.notes.chord == ""


def test_the_templates_name_each_chord_once():
    names = [t.name for t in TEMPLATES]
    assert len(names) == len(set(names)) == 36


# -- tempo ------------------------------------------------------------------------------------


def tempos(out) -> list[tuple[float, float]]:
    return [(position / RATE, float(c.value)) for position, commands in out for c in commands
            if isinstance(c, SetParam) and c.name == "tempo"]


def tempo_at(sent: list[tuple[float, float]], t: float) -> float | None:
    before = [bpm for at, bpm in sent if at <= t]
    return before[-1] if before else None


@pytest.mark.parametrize("bpm", [90, 120, 140])
def test_a_click_track_sets_the_tempo_within_four_bars(bpm):
    seconds = 16 * 60.0 / bpm + 4.0
    _, out = analyse(clicks(bpm, seconds))
    sent = tempos(out)
    four_bars = 16 * 60.0 / bpm
    assert sent and sent[0][0] <= four_bars, sent
    assert all(abs(value - bpm) <= 1.0 for _, value in sent), sent


def test_a_tempo_change_is_followed_within_four_bars_and_a_fill_does_not_throw_it():
    first = clicks(120, 10.0)
    fill = slice(round(6.0 * RATE), round(8.0 * RATE))  # bar 4: the beat gives way to triplets (180 a minute)
    first[fill] = clicks(180, 2.0, accent=False)
    audio = np.concatenate([first, clicks(140, 12.0)])
    _, out = analyse(audio)
    sent = tempos(out)
    assert abs(tempo_at(sent, 9.99) - 120) <= 1.0, sent  # held through the fill
    assert all(abs(v - 120) <= 1.0 for t, v in sent if t < 10.0), sent
    four_bars_at_140 = 16 * 60.0 / 140
    assert abs(tempo_at(sent, 10.0 + four_bars_at_140) - 140) <= 1.0, sent


def test_the_beat_and_the_downbeat_line_up_with_the_clicks():
    # Each AlignBeat says where in the bar the beat at `at` lies: the accented click is beat 0.
    bpm = 120
    analysis, out = analyse(clicks(bpm, 12.0))
    aligns = [c for _, commands in out for c in commands if isinstance(c, AlignBeat)]
    assert aligns and all(a.modulo == 4.0 for a in aligns)
    for align in aligns:
        heard_beat = align.at * bpm / 60.0
        assert abs(heard_beat - round(heard_beat)) < 0.05, align  # on a click (within 25 ms)
        assert (round(heard_beat) - align.beat) % 4 == 0, align  # the bar counted from the accent


def test_noise_sets_no_tempo():
    _, out = analyse(noise(10.0))
    assert tempos(out) == []


def test_a_beat_modulo_the_bar_moves_the_clock_to_the_nearest_such_place():
    from style_fakes import builtin_control

    state = builtin_control()
    state.clock.beat = 10.3
    AlignBeat(0.0, modulo=4.0).apply(state)  # bar starts at 8 and 12: 12 is nearer
    assert state.clock.beat == pytest.approx(12.0)
    state.clock.beat = 10.1
    AlignBeat(0.0, modulo=1.0).apply(state)  # the beat alone: 10, nudged (0.1 < tolerance)
    for _ in range(20):
        state.clock.advance()
    assert state.clock.beat == pytest.approx(10.0 + 20 * state.clock.beats_per_frame, abs=1e-6)


# -- the live path: a wav: source into a running daemon ---------------------------------------


def write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())


def test_a_daemon_listening_to_a_wav_holds_each_chord_in_the_frames_it_makes(tmp_path):
    from engines_for_tests import ToneEngine

    from mrtd.app.daemon import Daemon, DaemonConfig
    from mrtd.frame import FRAME_SECONDS

    signal = progression("plucked", beat_s=0.5, laps=1)
    write_wav(tmp_path / "band.wav", signal.audio)
    engine = ToneEngine(amp=0.0)
    daemon = Daemon(DaemonConfig(engine="synth", output="null", osc=None, midi=False, listen=f"wav:{tmp_path / 'band.wav'}",
                                 follow=["notes"], scene_dir=str(tmp_path)), engine=engine)
    daemon.start()
    try:
        assert daemon.listening is not None
        capture = daemon.listening.capture
        loop = len(signal.audio)
        deadline = time.monotonic() + 30.0
        while daemon.listening.follower.analysis.position < loop + 2 * RATE and time.monotonic() < deadline:
            daemon.stopped.wait(0.1)  # the input plays in real time: a lap and two seconds
        status = daemon.status()
        frame_of = daemon.control.frame_of
        seen = list(engine.seen)
    finally:
        daemon.stop()
    assert status["listen"].startswith("wav:") and status["listen_overruns"] == 0
    assert 0 < status["listen_cost_ms"] < 40.0
    delays = []
    for start, pitches in signal.events:  # the first lap's chords
        heard = int(np.floor(frame_of(capture.wall_time(start))))
        carrying = next((i for i in range(max(heard, 0), len(seen))
                         if set(np.flatnonzero(seen[i].notes > 0)) == set(pitches)), None)
        assert carrying is not None, f"{pitches} never reached the model"
        delays.append((carrying - heard) * FRAME_SECONDS)
    print(f"live: chord onset to the frame carrying it: p50 {np.percentile(delays, 50) * 1000:.0f} ms,"
          f" p99 {np.percentile(delays, 99) * 1000:.0f} ms; analysis latency p50 {status['listen_latency_ms']} ms")
    assert max(delays) < 0.5, delays  # within one beat at 120 BPM


# -- style: the last bars heard as the `listen` prompt -----------------------------------------


class _Controls:
    """The follower's view of the controls: the switches' values, and what it submitted."""

    def __init__(self, **values) -> None:
        self.values = {"meter": 4, "tempo": 120.0, "listen_notes": False, "listen_tempo": False, "listen_style": 0.0, **values}
        self.submitted: list = []

    def submit(self, command, due=None, account=None) -> None:
        self.submitted.append(command)


class _Capture:
    sample_rate = RATE
    overruns = 0
    ring = None

    def wall_time(self, position: int) -> float:
        return position / RATE

    def describe(self) -> str:
        return "test"


def pad(seconds: float) -> np.ndarray:
    """A dark, still pad: low sines, no attacks."""
    t = np.arange(round(seconds * RATE)) / RATE
    return 0.2 * (np.sin(2 * np.pi * 110 * t) + np.sin(2 * np.pi * 165 * t))


def busy(seconds: float) -> np.ndarray:
    """Bright and busy: sixteenth clicks over hiss."""
    return clicks(480, seconds, accent=False) + noise(seconds, 0.05)


def feed(follower, audio: np.ndarray) -> None:
    stereo_audio = np.repeat(audio.astype(np.float32)[:, None], 2, axis=1)
    for start in range(0, len(stereo_audio) - follower.hop + 1, follower.hop):
        follower.step(stereo_audio[start : start + follower.hop])


def test_the_listen_prompt_follows_a_change_of_material():
    from mrtd.control.commands import DefinePrompt
    from mrtd.inputs.listen.follower import ListenFollower
    from mrtd.style.builtin_audio import BuiltinAudioEmbedder

    embedder = BuiltinAudioEmbedder()
    embedded: list[np.ndarray] = []
    controls = _Controls(listen_style=0.8)
    follower = ListenFollower(_Capture(), controls, lambda name, samples, rate: embedded.append(
        embedder.embed_audio(samples, rate)), bars=1)  # one bar: 2 s at 120 BPM
    feed(follower, pad(6.0))
    feed(follower, busy(6.0))
    assert isinstance(controls.submitted[0], DefinePrompt) and controls.submitted[0].name == "listen"
    assert controls.submitted[0].weight == 0.8
    a, b = embedder.embed_audio(pad(2.0), RATE), embedder.embed_audio(busy(2.0), RATE)
    assert len(embedded) == 5  # every bar, from the end of the first
    for heard in embedded[:2]:  # the pad's bars
        assert heard @ a > heard @ b
    for heard in embedded[-2:]:  # the busy bars
        assert heard @ b > heard @ a


def test_the_listen_weight_moves_and_zero_takes_the_prompt_out():
    from mrtd.control.commands import ClearPrompt, SetWeight
    from mrtd.inputs.listen.follower import ListenFollower

    controls = _Controls(listen_style=0.5)
    follower = ListenFollower(_Capture(), controls, lambda *_: None, bars=1)
    feed(follower, pad(2.5))  # the first bar defines it
    controls.values["listen_style"] = 0.25
    feed(follower, pad(0.1))
    controls.values["listen_style"] = 0.0
    feed(follower, pad(2.5))
    kinds = [type(c).__name__ for c in controls.submitted]
    assert kinds == ["DefinePrompt", "SetWeight", "ClearPrompt"], kinds
    assert controls.submitted[1] == SetWeight("listen", 0.25) and controls.submitted[2] == ClearPrompt("listen")


def test_heard_audio_is_embedded_on_the_encoder_thread_past_the_cache(tmp_path):
    from mrtd.style.builtin_audio import BuiltinAudioEmbedder
    from mrtd.style.cache import CachedEmbedder, EmbeddingCache
    from mrtd.style.encoder import EncoderWorker

    ready: dict[str, np.ndarray] = {}
    embedder = CachedEmbedder(BuiltinAudioEmbedder(), EmbeddingCache(tmp_path))
    clip = np.repeat(busy(2.0).astype(np.float32)[:, None], 2, axis=1)
    with EncoderWorker(embedder, lambda name, e: ready.__setitem__(name, e), lambda name, why: None) as worker:
        worker.submit_audio("listen", clip, RATE)
        assert worker.wait_idle(10)
    assert np.allclose(ready["listen"], BuiltinAudioEmbedder().embed_audio(clip, RATE))
    assert not any(tmp_path.iterdir())  # live input is never cached


def test_a_scene_cue_switches_listening_on_and_sets_its_weight(tmp_path):
    from conftest import running_daemon, wait_for

    scene = tmp_path / "band.yaml"
    scene.write_text("name: band\ntempo: 120\nprompts: {pads: warm pads}\n"
                     "cues:\n  - {name: listen, at: \"1:1\", mix: {pads: 1}, set: {listen_notes: 1, listen_tempo: 1, listen_style: 0.5}}\n")
    with running_daemon(tmp_path, scene=str(scene), midi=False) as (daemon, _):
        wait_for(lambda: daemon.control.values["listen_style"] == 0.5, 10, "the cue to set the listen switches")
        assert daemon.control.values["listen_notes"] is True and daemon.control.values["listen_tempo"] is True
