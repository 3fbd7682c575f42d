"""Devices at other rates: a real streaming resampler, exact frame timing, the right pitch, a reset that ducks all of the old music."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from conftest import ClockedCapture, timetag_misses, wait_for
from engines_for_tests import RecordingEngine, ToneEngine
from mrtd.app.chain import AudioChain
from mrtd.app.daemon import Daemon, DaemonConfig
from mrtd.audio.outputs import Output
from mrtd.audio.playout import FADE_SAMPLES, Playout, playout_ring
from mrtd.runtime.resample import RateConverter
from mrtd.control.commands import NoteOn, SetParam
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from mrtd.inputs.osc.server import OscConfig
from mrtd.runtime.generator import Generator
from osc_probe import OscProbe
from output_rig import dominant_frequency, jack_record, private_jack
from style_fakes import builtin_control

DEVICE_RATE = 44_100


def test_frame_starts_are_exact_at_44k1():
    playout = Playout(playout_ring(1024), sample_rate=DEVICE_RATE)
    for frame in list(range(2000)) + [10**6, 10**9 + 7]:
        exact = Fraction(frame * FRAME_SAMPLES * DEVICE_RATE, SAMPLE_RATE)
        assert playout.frame_start(frame) == int(exact + Fraction(1, 2)), frame
    assert Playout(playout_ring(1024)).frame_start(12345) == 12345 * FRAME_SAMPLES  # 48 kHz: unchanged


def test_the_resampled_stream_keeps_frame_k_at_its_exact_sample():
    """A click on the first sample of every frame comes out at round(k * 1764) (soxr removes its delay)."""
    converter = RateConverter(DEVICE_RATE)
    frame = np.zeros((FRAME_SAMPLES, 2), np.float32)
    frame[0] = 1.0
    out = np.concatenate([converter.convert(frame) for _ in range(300)])
    playout = Playout(playout_ring(1024), sample_rate=DEVICE_RATE)
    for k in range(1, 290):
        start = playout.frame_start(k)
        window = out[start - 20 : start + 20, 0]
        assert int(np.argmax(window)) - 20 == 0, (k, np.argmax(window) - 20)
    # No drift: after 300 frames soxr owes only its look-ahead, never a growing amount.
    assert 0 <= converter.held_back() < 0.02 * DEVICE_RATE


def test_timetagged_bundles_land_in_the_frame_heard_at_their_time_at_44k1(tmp_path):
    engine = RecordingEngine()
    sink = ClockedCapture(DEVICE_RATE)
    daemon = Daemon(DaemonConfig(osc=OscConfig(port=0), midi=False, cache_dir=str(tmp_path)), engine=engine, output=sink)
    daemon.start()
    probe = OscProbe(daemon.osc.port)
    try:
        assert daemon.status()["device_rate"] == DEVICE_RATE
        assert daemon.status()["resampler"] == "soxr HQ 48000->44100"
        wait_for(lambda: daemon.generator.frames > 10, 5, "the music to start")
        misses = timetag_misses(engine, sink, probe, 8, seed=11)
        status = daemon.status()
    finally:
        probe.close()
        daemon.stop()
    assert misses == [0] * 8, f"frames off: {misses}"
    assert status["underruns"] == 0


def test_a4_sounds_at_440_hz_on_a_44k1_jack_server_without_underruns(tmp_path):
    with private_jack(DEVICE_RATE):
        daemon = Daemon(DaemonConfig(engine="synth", output="default", osc=None, midi=False, cache_dir=str(tmp_path)))
        daemon.start()
        try:
            status = daemon.status()
            assert status["output"].startswith("device:"), status["output"]
            assert status["device_rate"] == DEVICE_RATE and status["resampler"] == "soxr HQ 48000->44100"
            assert status["jack_client"] == "mrtd"
            daemon.control.submit(SetParam("cfg_notes", 5.0))
            daemon.control.submit(SetParam("drums", 0))
            daemon.control.submit(NoteOn(69))
            # Let the note settle (the synth's envelope, the lead): 1.5 s on the device's clock.
            settled = daemon.playout.samples_out + round(1.5 * DEVICE_RATE)
            wait_for(lambda: daemon.playout.samples_out >= settled, 10, "the note to settle")
            heard = jack_record(["mrtd:out_0", "mrtd:out_1"], 3.0, tmp_path / "a4.wav")
            status = daemon.status()
        finally:
            daemon.stop()
    assert status["underruns"] == 0, status
    assert len(heard) >= 2.5 * DEVICE_RATE
    mono = heard.mean(axis=1)
    found = dominant_frequency(mono, DEVICE_RATE)
    assert abs(found - 440.0) < 2.0, f"{found:.1f} Hz (479 Hz would be 48 kHz audio played at 44.1 kHz)"
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono)))) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / DEVICE_RATE)
    assert spectrum[np.abs(freqs - 440.0) <= 13.2].sum() / spectrum.sum() > 0.5, "A4 should own the spectrum"


class ToneUntilReset(ToneEngine):
    """A loud tone until the engine is reset, silence after: whatever is heard after a reset
    is audio made before it."""

    def _step(self, conditioning):
        if conditioning.reset:
            self.amp = 0.0
        return super()._step(conditioning)


class HandPlayedCard(Output):
    """A 44.1 kHz sound card whose callback the test calls block by block."""

    name = "hand-played"
    sample_rate = DEVICE_RATE

    def start(self, playout: Playout) -> None:
        self.playout = playout

    def stop(self) -> None:
        pass

    def time(self) -> float:
        return 0.0


def test_a_reset_asked_for_now_ducks_what_the_resampler_still_holds_too():
    """At 44.1 kHz soxr holds the end of the last frame back (its look-ahead) when the reset frame
    is made: the duck must reach past what the ring holds to where the reset frame starts, or
    that end of the old music is heard at full level after the duck, just before the reset.

    The runner's own loop runs on this thread, and each time it would rest the card plays one block
    by hand: the callback and the generation side in lock step, so every run is the same."""
    engine, control = ToneUntilReset(freq=330.0, amp=0.5), builtin_control()
    generator = Generator(engine, control)
    # A margin of three frames keeps old frames buffered when the reset comes, as a lead of three did.
    chain = AudioChain(["null"], margin_s=0.12, master=HandPlayedCard())
    runner = chain.runner_for(generator)
    playout, ring = chain.playout, chain.ring
    chain.start_master()
    block = np.zeros((441, 2), np.float32)
    placed: list[tuple[int, np.ndarray]] = []
    reset_frame = ducked_from = None
    played = 0

    def play_a_block(_seconds: float) -> None:  # the runner rests: nothing is due until the card reads
        nonlocal reset_frame, ducked_from, played
        if played == 120:
            reset_frame = generator.frames  # the next frame made
            control.request_reset(at_once=True)
        if reset_frame is not None and ducked_from is None and generator.frames > reset_frame:
            ducked_from = ring.read_position  # the reset frame is made: this block ducks
        playout.fill(block)
        if playout.started:
            placed.append((playout.clock[0], block[:, 0].copy()))
        played += 1
        if played == 240:  # 2.4 s of the device's clock
            runner._stop.set()

    runner._wait = play_a_block
    runner._run()
    assert engine.seen[reset_frame].reset and ducked_from is not None
    assert playout.underruns == 0 and runner.errors == 0
    heard = np.zeros(placed[-1][0] + len(block), np.float32)
    for position, samples in placed:
        heard[position : position + len(samples)] = samples
    reset_starts = playout.frame_start(reset_frame)
    assert ducked_from < reset_starts - runner.frame_samples, "the duck came while old frames were buffered"
    assert np.abs(heard[ducked_from - 2000 : ducked_from]).max() > 0.45, "the tone played up to the reset"
    after_duck = heard[ducked_from + FADE_SAMPLES :]  # the duck's 5 ms fade is over
    loudest = int(np.argmax(np.abs(after_duck)))
    offset = ducked_from + FADE_SAMPLES + loudest - reset_starts
    assert np.abs(after_duck).max() < 0.005, (  # -40 dB below the tone
        f"the old tone heard at {np.abs(after_duck).max():.3f} after the duck, {offset} samples from the "
        f"reset frame's start (the resampler held {chain.converter.look_ahead} samples back)")
