"""Frames made just in time: the runner starts a frame when the audio ahead of the listener falls
to what the playout needs plus what a step takes plus a margin; the margin widens after trouble
and narrows back slowly; the presets parse.

The runner's own loop runs here on a simulated sound card: one clock that the card's callbacks,
the engine's steps and the runner's waits all move, so every run is the same to the sample."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines_for_tests import ToneEngine
from mrtd.audio.outputs import LATENCY_PRESETS, parse_latency
from mrtd.audio.playout import FADE_SAMPLES, Playout
from mrtd.frame import FRAME_SECONDS, FRAMES_PER_SECOND, SAMPLE_RATE
from mrtd.runtime.generator import Generator
from mrtd.runtime.pacing import MAX_WIDENING_S, NARROW_AFTER_FRAMES, UNDERRUN_WIDENING, WANDER, WINDOW_FRAMES, Pacing
from mrtd.runtime.runner import MIN_WAIT_S, Runner, control_latency_s, ring_for
from style_fakes import builtin_control

REPO = Path(__file__).resolve().parent.parent
BLOCK = 256  # a JACK period at 48 kHz: 5.3 ms
DEVICE_LATENCY = 2 * BLOCK / SAMPLE_RATE  # what PortAudio's callback times say on JACK: two periods


class SimulatedCard:
    """A sound card on a simulated clock: a callback every BLOCK samples fills from the playout,
    heard DEVICE_LATENCY later. Whoever spends time (an engine's step, the runner's wait) moves it."""

    def __init__(self, playout: Playout, late=lambda k: 0.0) -> None:
        """`late(k)`: how late the k-th callback runs (less than a block), as a callback thread
        woken late does; the device's grid does not move, so the next one comes on time."""
        self.playout = playout
        self.now = 0.0
        self._next_callback = 0.0
        self._callbacks = 0
        self._late = late
        self._block = np.zeros((BLOCK, 2), np.float32)
        self.latency = DEVICE_LATENCY

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while (runs_at := self._next_callback + self._late(self._callbacks)) <= end:
            self.now = runs_at
            # What JACK's callback times say: its clock is read when the callback runs, late or not.
            self.playout.fill(self._block, output_time=self.now + self.latency)
            self._next_callback += BLOCK / SAMPLE_RATE
            self._callbacks += 1
        self.now = end


class SteppedTone(ToneEngine):
    """A tone whose step takes `steps(k)` seconds of the card's clock on its k-th step."""

    def __init__(self, card: SimulatedCard, steps) -> None:
        super().__init__()
        self.card, self.steps, self.stepped = card, steps, 0
        self.clock = lambda: card.now  # the step timer reads the simulated clock too

    def _step(self, conditioning):
        self.card.advance(self.steps(self.stepped))
        self.stepped += 1
        return super()._step(conditioning)


def simulate(steps, frames: int, margin_s: float, first_step_s: float | None = None, late=lambda k: 0.0,
             oversleep=lambda frame: 0.0):
    """Run the runner's loop for `frames` frames; returns (runner, card, starts) where starts holds,
    for every frame, (audio ahead of the listener, the audio ahead it was due at, the margin) when
    it began. The step is known from the start (the first one), unless `first_step_s` says what
    the runner assumes instead until it has watched the card for its window. `late`: the card's
    callbacks' lateness (`SimulatedCard`). `oversleep(frame)`: how much longer than asked the
    runner's wait before that frame sleeps, as a thread the machine stops does."""
    ring = ring_for(margin_s)
    playout = Playout(ring)
    card = SimulatedCard(playout, late)
    engine = SteppedTone(card, steps)
    generator = Generator(engine, builtin_control())
    starts: list[tuple[float, float, float]] = []
    runner: Runner

    def wait(seconds: float) -> None:
        card.advance(seconds + oversleep(generator.frames))

    def began(_control) -> None:
        starts.append((runner.ahead_s(), runner.target_s, runner.pacing.margin_s))
        if generator.frames >= frames:
            runner._stop.set()

    generator.after_commands = began
    runner = Runner(generator, playout, margin_s, output_time=card.time, device_latency=lambda: card.latency,
                    wait=wait, first_step_s=steps(0) if first_step_s is None else first_step_s, clock=card.time)
    runner._run()  # on this thread: the simulated clock is the only clock
    return runner, card, starts


def test_a_frame_starts_when_the_audio_ahead_falls_to_what_the_playout_needs_plus_the_step_plus_the_margin():
    step, margin = 0.005, 0.004
    runner, card, starts = simulate(lambda k: step, frames=400, margin_s=margin)
    assert runner.playout.underruns == 0
    assert runner.pacing.margin_s == margin, "nothing went wrong: the margin stays as set"
    # What making a frame takes, as measured on the audio clock: the step, and the wake-up's rounding.
    assert step <= runner.pacing.step_s <= step + 0.0006
    playing = starts[50:]
    # What the playout needs is the device's latency and what the ring still holds at the callback
    # that needs the frame: a frame's 1,920 samples end on a 256-sample block's start (0 left), then
    # half-way through one (128), alternately. No reserve is held back.
    lead = runner.pacing.step_s + margin
    on_the_grid, half_way = DEVICE_LATENCY + lead, DEVICE_LATENCY + 128 / SAMPLE_RATE + lead
    dues = [due for _, due, _ in playing]
    assert all(due == pytest.approx(on_the_grid, abs=1e-9) or due == pytest.approx(half_way, abs=1e-9) for due in dues)
    assert {round(a - b, 9) for a, b in zip(dues[1:], dues)} == {round(half_way - on_the_grid, 9),
                                                                 round(on_the_grid - half_way, 9)}, "alternately"
    for ahead, due, _ in playing:
        # Started just in time: never late, and early by less than the shortest sleep.
        assert due - 1e-9 <= ahead < due + MIN_WAIT_S
    # 23 ms of audio ahead when a frame starts, where three whole frames were 120 ms.
    assert max(ahead for ahead, _, _ in playing) < 0.023
    # A promise covers the frame that starts furthest ahead: the device's latency and a whole block.
    most = DEVICE_LATENCY + BLOCK / SAMPLE_RATE + lead
    assert runner.control_latency_s() == pytest.approx(FRAME_SECONDS + most)
    assert runner.control_latency_s() == pytest.approx(
        control_latency_s(margin, runner.pacing.step_s, DEVICE_LATENCY, BLOCK / SAMPLE_RATE))


def test_with_next_to_no_margin_a_steady_step_still_lands_every_frame_in_time():
    """The frame is due when the callback that needs it comes, not a block earlier: with half a
    millisecond of margin nothing else would hide a frame due half a block too late."""
    runner, card, starts = simulate(lambda k: 0.005, frames=400, margin_s=0.0005)
    assert runner.playout.underruns == 0 and runner.pacing.widenings == 0
    assert min(ahead for ahead, _, _ in starts[50:]) < DEVICE_LATENCY + 0.0056, "just in time: no block to spare"


def test_a_callback_that_runs_late_does_not_make_the_next_frame_late():
    """A callback thread woken late (JACK's server on a busy machine) says its block is heard that
    much later, but the device's grid does not move: the next callback comes on time. Believed,
    the late say puts the audio ahead that much too far, and a frame planned then starts late."""
    step, margin = 0.003, 0.002
    lateness = np.random.default_rng(1).uniform(0.0, 0.005, 10_000)  # up to 5 ms late: past the margin, within a block
    lateness[::4] = 0.0  # and now and then one on time
    runner, card, starts = simulate(lambda k: step, frames=400, margin_s=margin, late=lambda k: lateness[k])
    assert runner.playout.underruns == 0
    assert runner.pacing.widenings == 0, "no frame came close to being late"
    # The audio ahead as the device's grid has it: the on-time callbacks' say.
    on_time, late_one = steady_and_late_ahead(runner, card)
    assert late_one == pytest.approx(on_time, abs=1e-9), "a late callback does not move the audio ahead"


def steady_and_late_ahead(runner: Runner, card: SimulatedCard) -> tuple[float, float]:
    """The runner's audio ahead just before the card's next late callback (the on-time ones have
    the say) and just after it, at the same instant of the card's clock."""
    while card._late(card._callbacks) < 0.001:
        card.advance(BLOCK / SAMPLE_RATE)
    card.advance(card._next_callback + card._late(card._callbacks) - card.now - 1e-6)
    before = runner.ahead_s() - 1e-6  # what is ahead 1 µs later, by the clock before the callback
    card.advance(1e-6)
    return before, runner.ahead_s()


def test_until_it_has_watched_the_machine_for_its_window_a_step_is_assumed_to_take_a_frame():
    step, margin = 0.003, 0.004
    runner, card, starts = simulate(lambda k: step, frames=WINDOW_FRAMES + 100, margin_s=margin,
                                    first_step_s=FRAME_SECONDS)
    least = DEVICE_LATENCY, DEVICE_LATENCY + 128 / SAMPLE_RATE  # the ring's end on a block's start, or half-way
    dues = [due for _, due, _ in starts]
    assert any(dues[50] - FRAME_SECONDS - margin == pytest.approx(x) for x in least), "as safe at first as a frame ahead"
    assert any(dues[-1] - step - margin == pytest.approx(x, abs=0.0006) for x in least), "then just in time"
    assert runner.pacing.settled and runner.playout.underruns == 0


def test_a_slower_engine_starts_its_frames_further_ahead_by_its_step():
    fast = simulate(lambda k: 0.002, frames=200, margin_s=0.004)
    slow = simulate(lambda k: 0.020, frames=200, margin_s=0.004)
    assert fast[0].playout.underruns == slow[0].playout.underruns == 0
    assert slow[0].target_s - fast[0].target_s == pytest.approx(0.018, abs=0.0007)


def test_a_sudden_slow_spell_widens_the_margin_once_logged_and_it_narrows_back_slowly(caplog):
    margin = 0.004
    spell = range(300, 306)  # six steps of 25 ms among 3 ms ones
    caplog.set_level(logging.INFO, logger="mrtd")
    runner, card, starts = simulate(lambda k: 0.025 if k in spell else 0.003, frames=300 + 5 * NARROW_AFTER_FRAMES,
                                    margin_s=margin)
    margins = [m for _, _, m in starts]
    widened = [r for r in caplog.records if "margin widened" in r.getMessage()]
    assert len(widened) == 1, "one spell, one widening, one line (not one per late frame)"
    widest = max(margins)
    assert margins[300] == margin and widest >= 1.5 * margin
    calm = margins.index(widest)  # the first frame after it widened
    assert 300 < calm < 310
    # Slowly: as wide for NARROW_AFTER_FRAMES (30 s) after the spell, then halfway back...
    assert margins[calm + NARROW_AFTER_FRAMES - 10] == widest
    assert margins[calm + NARROW_AFTER_FRAMES + 10] == pytest.approx(margin + (widest - margin) / 2)
    # ...and back at the margin that was set, in the end, each step in the log.
    assert runner.pacing.margin_s == margin and runner.pacing.reason == ""
    assert any("margin narrowed to 4.0 ms" in r.getMessage() for r in caplog.records)


def test_steps_that_wander_widen_the_margin_before_anything_goes_wrong_and_quiet_ones_do_not():
    """Costs of 2 ms that now and then take 8 (a flood of OSC on a busy machine) make a margin of
    4 ms too thin for the one that takes 15: the margin follows their wander (twice 6 ms) first."""
    margin = 0.004
    wandering = simulate(lambda k: 0.008 if k % 40 == 0 else 0.002, frames=700, margin_s=margin)[0]
    assert wandering.pacing.margin_s == pytest.approx(WANDER * (0.008 - 0.002), abs=0.0007)
    assert wandering.pacing.reason.startswith("steps wander: 2.0 ms typically, 8.0 ms at the second largest")
    busy, _, starts = simulate(lambda k: 0.015 if k == 700 else 0.008 if k % 40 == 0 else 0.002, frames=760,
                               margin_s=margin)
    assert starts[700][2] == pytest.approx(WANDER * (0.008 - 0.002), abs=0.0007)
    assert busy.playout.underruns == 0, "the 15 ms step landed in time"
    # A quiet machine keeps the margin set, one hiccup and all (the step, the largest cost, covers it).
    quiet = simulate(lambda k: 0.005 if k == 500 else 0.0025 if k % 40 == 0 else 0.002, frames=760, margin_s=margin)[0]
    assert quiet.playout.underruns == 0
    assert quiet.pacing.step_s == pytest.approx(0.005, abs=0.0006)
    assert quiet.pacing.margin_s == margin and quiet.pacing.reason == ""


def test_an_underrun_doubles_the_margin_at_once():
    margin = 0.004
    runner, card, starts = simulate(lambda k: 0.070 if k == 200 else 0.003, frames=260, margin_s=margin)
    assert runner.playout.underruns == 1, "a 70 ms step runs the ring dry"
    assert runner.pacing.margin_s >= UNDERRUN_WIDENING * margin
    assert runner.pacing.reason == "the playout underran (its thread woke 0.0 ms late, its step took 70.0 ms)", \
        "the log tells an engine that stepped too slowly"


def test_an_underrun_after_the_machine_stopped_the_thread_says_it_started_late():
    runner, card, starts = simulate(lambda k: 0.003, frames=260, margin_s=0.004,
                                    oversleep=lambda frame: 0.030 if frame == 200 else 0.0)
    assert runner.playout.underruns == 1
    assert runner.pacing.reason == "the playout underran (its thread woke 30.0 ms late, its step took 3.0 ms)", \
        "the log tells a machine that stopped the thread"


def test_underruns_a_second_apart_widen_it_each_time_but_only_so_far():
    pacing = Pacing(0.004)
    for count in range(1, 100):
        pacing.underruns_seen(count)
        for _ in range(FRAMES_PER_SECOND):
            pacing.frame_made(0.003, 0.004)
    assert pacing.margin_s == pytest.approx(0.004 + MAX_WIDENING_S)


@pytest.mark.parametrize("value, margin_ms, device", [
    ("low", LATENCY_PRESETS["low"].margin_ms, "low"),
    ("balanced", LATENCY_PRESETS["balanced"].margin_ms, "low"),
    ("safe", LATENCY_PRESETS["safe"].margin_ms, "high"),
    ("15", 15.0, "low"), (15, 15.0, "low"), ("2.5ms", 2.5, "low"), (0, 0.0, "low"),
])
def test_presets_and_margins_in_milliseconds_parse(value, margin_ms, device):
    preset = parse_latency(value)
    assert preset.margin_ms == margin_ms and preset.device_latency == device


@pytest.mark.parametrize("value", ["fast", "-5", -5, "nan", float("inf"), "20000", True, None, ""])
def test_a_latency_that_is_neither_a_preset_nor_a_margin_is_refused_in_words(value):
    with pytest.raises(ValueError, match="use low, balanced, safe, or a margin in milliseconds"):
        parse_latency(value)


def test_the_presets_order_from_low_to_safe():
    margins = [LATENCY_PRESETS[name].margin_ms for name in ("low", "balanced", "safe")]
    assert margins == sorted(margins) and margins[0] < margins[1] < margins[2]


def _mrtd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mrtd", *args], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin"})


def test_the_command_line_and_the_config_file_take_a_preset_or_milliseconds_and_refuse_the_rest(tmp_path):
    from mrtd.app.config import load_settings

    assert load_settings(None, {"latency": 15.0}).daemon_config().margin_s == pytest.approx(0.015)
    assert load_settings(None, {}).daemon_config().margin_s == pytest.approx(LATENCY_PRESETS["balanced"].margin_ms / 1000)
    config = tmp_path / "mrtd.yaml"
    config.write_text("latency: 7.5\n")
    assert load_settings(config, {}).daemon_config().margin_s == pytest.approx(0.0075)
    # The old form: N frames ahead is a margin of N frames; a --latency flag wins over the file's lead.
    config.write_text("lead_frames: 3\n")
    assert load_settings(config, {}).daemon_config().margin_s == pytest.approx(0.12)
    assert load_settings(config, {"latency": "low"}).daemon_config().margin_s == pytest.approx(
        LATENCY_PRESETS["low"].margin_ms / 1000)
    assert load_settings(None, {"lead_frames": 2, "latency": "safe"}).daemon_config().margin_s == pytest.approx(0.08)

    refused = _mrtd("run", "--latency", "fast", "--engine", "synth", "--output", "null")
    assert refused.returncode == 2 and "use low, balanced, safe, or a margin in milliseconds" in refused.stderr
    config.write_text("latency: -3\n")
    checked = _mrtd("check", "--config", str(config))
    assert checked.returncode == 1 and "latency -3.0: use low, balanced, safe" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_a_failed_step_doubles_the_margin_before_the_trouble_it_brings():
    """A failed step resets the engine, and after a few the daemon loads another beside it: the
    margin widens at the first failure, not after an underrun."""

    failed = []

    def steps(k: int) -> float:
        if k == 200 and not failed:
            failed.append(k)
            raise RuntimeError("a failed step")
        return 0.003

    runner, card, starts = simulate(steps, frames=230, margin_s=0.004)
    assert runner.generator.faults == 1 and runner.playout.underruns == 0
    assert [m for _, _, m in starts][205] == 2 * 0.004
    assert runner.pacing.reason == "the engine failed a step"


class _SplitHostBuffers:
    """sounddevice as PortAudio is where it splits each 512-sample host buffer into two 256-sample
    callbacks: they come together, and the second one's samples wait a block longer for the DAC."""

    PortAudioError = RuntimeError

    class OutputStream:
        def __init__(self, callback, **_):
            self.callback, self.latency, self.active = callback, 0.001, True

        def start(self):
            pass

    def query_devices(self, device=None, kind=None):
        return {"name": "split", "hostapi": 0, "max_output_channels": 2, "default_samplerate": 48000.0}

    def query_hostapis(self, index):
        return {"name": "ALSA"}

    def check_output_settings(self, **_):
        pass


def test_where_callbacks_come_in_pairs_the_runner_plans_with_the_one_that_waits_longest(monkeypatch):
    from types import SimpleNamespace

    import mrtd.audio.outputs as outputs
    from mrtd.audio.outputs import DAC_DELAYS

    monkeypatch.setattr(outputs, "import_sounddevice", _SplitHostBuffers)
    device = outputs.DeviceOutput()
    device.start(Playout(ring_for(0.004)))
    block = np.zeros((BLOCK, 2), np.float32)
    status = SimpleNamespace(output_underflow=False)

    def host_buffer(now: float, latency: float) -> None:
        for half in range(2):
            device._stream.callback(block, BLOCK, SimpleNamespace(
                currentTime=now, outputBufferDacTime=now + latency + half * BLOCK / SAMPLE_RATE), status)

    host_buffer(1.0, DEVICE_LATENCY)
    assert device.latency == pytest.approx(DEVICE_LATENCY + BLOCK / SAMPLE_RATE), "the later callback of the pair"
    def alone(count: int) -> None:  # callbacks one per host buffer from now on, 3 ms to the DAC
        for k in range(count):
            device._stream.callback(block, BLOCK, SimpleNamespace(currentTime=2.0 + k, outputBufferDacTime=2.003 + k),
                                    status)

    alone(DAC_DELAYS - 2)
    assert device.latency == pytest.approx(DEVICE_LATENCY + BLOCK / SAMPLE_RATE), "the pair is still among the last 16"
    alone(2)
    assert device.latency == pytest.approx(0.003), "then it is forgotten"


def test_when_the_device_asks_for_blocks_of_more_than_one_size_a_frame_is_due_a_whole_block_early():
    playout = Playout(ring_for(0.004))
    playout.ring.write(np.zeros((1920, 2), np.float32))
    playout.fill(np.zeros((BLOCK, 2), np.float32), 1.0)
    on_the_grid = playout.least_ahead_s(DEVICE_LATENCY)
    assert on_the_grid == pytest.approx(DEVICE_LATENCY + (1920 - BLOCK) % BLOCK / SAMPLE_RATE)
    playout.fill(np.zeros((200, 2), np.float32), 1.0)
    assert playout.least_ahead_s(DEVICE_LATENCY) == pytest.approx(DEVICE_LATENCY + 200 / SAMPLE_RATE)
    playout.fill(np.zeros((BLOCK, 2), np.float32), 1.0)
    assert playout.least_ahead_s(DEVICE_LATENCY) == pytest.approx(DEVICE_LATENCY + BLOCK / SAMPLE_RATE), \
        "no grid to go by: a whole block"
