"""The ring and the callback, driven by hand: an offline clock, so every figure is exact."""

import numpy as np
import pytest

from mrtd.audio.playout import FADE_SAMPLES, Playout, playout_ring
from mrtd.frame import FRAME_SAMPLES, SAMPLE_RATE
from mrtd.audio.ring import Ring


def tone(n: int, start: int = 0, freq: float = 220.0, amp: float = 0.8) -> np.ndarray:
    t = (np.arange(start, start + n) / SAMPLE_RATE).astype(np.float64)
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def test_ring_keeps_order_across_wraparound():
    ring = Ring(5 * FRAME_SAMPLES)
    source = tone(20 * FRAME_SAMPLES)
    out = np.zeros((len(source), 2), np.float32)
    written = read = 0
    block = 333  # deliberately not a divisor of the frame
    while read < len(source):
        if written < len(source) and ring.space() >= FRAME_SAMPLES:
            ring.write(source[written : written + FRAME_SAMPLES])
            written += FRAME_SAMPLES
        read += ring.read_into(out[read:], min(block, len(source) - read))
    np.testing.assert_array_equal(out, source)


def test_ring_refuses_to_overwrite_unread_audio():
    ring = Ring(2 * FRAME_SAMPLES)
    ring.write(tone(2 * FRAME_SAMPLES))
    with pytest.raises(OverflowError):
        ring.write(tone(1))


def test_the_ring_keeps_what_was_read_last_and_plays_it_back_mirrored_across_the_wrap():
    ring = Ring(1000, keep=300)
    source = np.repeat(np.arange(5000, dtype=np.float32)[:, None], 2, axis=1)  # each sample says its position
    out = np.zeros((500, 2), np.float32)
    for start, chunk in ((0, 500), (500, 500), (1000, 500), (1500, 500), (2000, 100)):
        assert ring.space() == 1000 - 300 - ring.fill(), "the producer never writes over the kept samples"
        ring.write(source[start : start + chunk])
        ring.read_into(out, chunk)
    # Read up to 2100: the kept 300 (1800-2099) sit at the buffer's end and its start.
    read = ring.read_position
    got = ring.mirror_into(out, 10, 400)
    assert got == 290, "only what is kept"
    np.testing.assert_array_equal(out[:got, 0], np.arange(read - 11, read - 301, -1))
    assert ring.read_position == read, "a mirror reads nothing"
    with pytest.raises(ValueError):
        Ring(100, keep=100)


def _play(playout: Playout, blocks: int, block: int = 256) -> np.ndarray:
    out = np.zeros((blocks * block, 2), np.float32)
    for i in range(blocks):
        playout.fill(out[i * block : (i + 1) * block])
    return out


def test_underrun_fades_out_and_back_in_without_a_click():
    ring = playout_ring(8 * FRAME_SAMPLES)
    playout = Playout(ring)
    position = 0

    def produce(frames: int) -> None:
        nonlocal position
        for _ in range(frames):
            ring.write(tone(FRAME_SAMPLES, position))
            position += FRAME_SAMPLES

    produce(3)
    before = _play(playout, 40)  # 10240 samples > 5760 written: the producer "stalls"
    assert playout.underruns == 1
    produce(4)
    after = _play(playout, 20)
    heard = np.concatenate([before, after])[:, 0]

    steady = np.abs(np.diff(tone(FRAME_SAMPLES)[:, 0])).max()
    assert np.abs(np.diff(heard)).max() <= steady * 1.05, "a gap must never click"
    assert np.abs(heard).max() > 0.7, "the music was heard at full level"
    assert playout.underruns == 1, "recovery is not a second underrun"
    # Nothing is held back: the ring ran short only at the block it could not fill (5632-5887, with
    # 128 samples left), and every sample before it was heard as written (after the first fade-in).
    written = tone(3 * FRAME_SAMPLES)[:, 0]
    np.testing.assert_array_equal(heard[FADE_SAMPLES:5632], written[FADE_SAMPLES:5632])
    # From there it fades out over FADE_SAMPLES: the 128 samples left, then the past mirrored around
    # the last one (sample 5760 + g plays 5759 - g), then silence.
    ramp = 1.0 - np.arange(1, FADE_SAMPLES + 1, dtype=np.float32) / FADE_SAMPLES
    gap = np.concatenate([written[5632:5760], written[5760 - (FADE_SAMPLES - 128):][::-1]])
    np.testing.assert_allclose(heard[5632 : 5632 + FADE_SAMPLES], gap * ramp, atol=1e-6)
    assert not heard[5632 + FADE_SAMPLES : len(before)].any(), "then silence until the producer is back"


def test_draining_plays_out_what_is_left():
    ring = playout_ring(4 * FRAME_SAMPLES)
    playout = Playout(ring)
    ring.write(tone(FRAME_SAMPLES))
    playout.draining = True
    _play(playout, 8)
    assert ring.fill() == 0


def test_the_clock_believes_the_earliest_callback_and_follows_a_new_output_or_a_gap_at_once():
    """When a ring sample is heard: a callback run late does not move it (the device's grid does
    not move); another output's clock, or a gap (the ring not read on the grid), does, at once."""
    ring = playout_ring(48000)
    playout = Playout(ring)
    ring.write(tone(20000))
    block = np.zeros((256, 2), np.float32)
    period = 256 / SAMPLE_RATE
    # Ring sample 0 is heard at 100.0 s of this output's clock; the third callback runs 4 ms late.
    for k, late in enumerate([0.0, 0.0, 0.004, 0.0]):
        playout.fill(block, output_time=100.0 + k * period + late)
        if k == 0:
            assert playout.heard_at(0) == pytest.approx(100.0)  # (the first cushion was there)
    assert playout.heard_at(256 * 3) == pytest.approx(100.0 + 3 * period)
    playout.fill(block, output_time=100.0 + 4 * period + 0.004)  # another late one, last
    assert playout.heard_at(256 * 5) == pytest.approx(100.0 + 5 * period), "not 4 ms later"
    # Another output takes over the ring: its clock starts near 0, and it is believed at once.
    playout.fill(block, output_time=2.0)
    assert playout.heard_at(256 * 6) == pytest.approx(2.0 + period)
    playout.fill(block, output_time=2.0 + period + 0.05)  # 50 ms late: still this clock's grid
    assert playout.heard_at(256 * 7) == pytest.approx(2.0 + 2 * period)
    playout.fill(block, output_time=500.0)  # and one whose clock is far ahead of the last one's
    assert playout.heard_at(256 * 8) == pytest.approx(500.0 + period)
    # A gap: the ring runs dry, the callbacks play silence without reading it; once it plays again,
    # its samples are heard later than the old grid said, and the clock says so at once.
    now = 500.0 + period
    while ring.fill() >= 256:
        playout.fill(block, output_time=now)
        now += period
    resumed = ring.read_position + ring.fill()
    for _ in range(3):  # dry: what is left, faded; then 11 ms of silence, the ring not read
        playout.fill(block, output_time=now)
        now += period
    ring.write(tone(4000))
    playout.fill(block, output_time=now)  # a cushion again: the music fades back in from `resumed`
    assert playout.heard_at(resumed) == pytest.approx(now)
