"""The one token bucket every input's rate limit spends from (inputs/bucket.py): time is handed in."""

from __future__ import annotations

import pytest

from mrtd.inputs.bucket import TokenBucket


def test_a_full_bucket_passes_its_burst_then_refuses_until_time_refills_it():
    bucket = TokenBucket(rate=8, burst=5, now=100.0)
    assert [bucket.take(100.0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(100.0625), "half a token came back, not a whole one"
    assert bucket.take(100.125) and not bucket.take(100.125), "one token an eighth of a second"
    assert bucket.level(100.375) == pytest.approx(2.0)


def test_refill_stops_at_the_burst_however_long_it_was_quiet():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    for _ in range(5):
        bucket.take(0.0)
    assert bucket.level(3600.0) == 5.0
    assert sum(bucket.take(3600.0) for _ in range(20)) == 5


def test_the_burst_is_one_seconds_rate_unless_given():
    bucket = TokenBucket(rate=64, now=0.0)
    assert bucket.level(0.0) == 64.0
    assert bucket.take(0.0, cost=64) and not bucket.take(0.0, cost=1)


def test_a_refusal_spends_nothing():
    bucket = TokenBucket(rate=100, burst=100, now=0.0)
    assert not bucket.take(0.0, cost=150)
    assert bucket.take(0.0, cost=100), "the refused 150 left all 100 in the bucket"


def test_an_overdraw_spends_past_zero_while_anything_is_banked_then_waits_for_the_debt():
    bucket = TokenBucket(rate=100, burst=100, now=0.0)
    assert bucket.take(0.0, cost=300, overdraw=True)
    assert bucket.level(0.0) == pytest.approx(-200.0)
    assert not bucket.take(1.99, cost=1, overdraw=True), "still in debt after 1.99 s"
    assert bucket.take(2.01, cost=1, overdraw=True)


def test_a_charge_is_paid_whatever_is_banked_but_never_sinks_below_one_burst_of_debt():
    bucket = TokenBucket(rate=10, burst=10, now=0.0)
    bucket.charge(4)
    assert bucket.level(0.0) == pytest.approx(6.0)
    bucket.charge(1000)
    assert bucket.level(0.0) == -10.0
    assert not bucket.take(0.9) and bucket.take(1.1), "a second pays the burst of debt back, then a token comes"
