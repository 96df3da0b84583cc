"""Retry delays: exponential with full jitter, at least Retry-After, capped."""

import random

import pytest

from workers.jobs.backoff import retry_delay_s


@pytest.mark.parametrize("retries", [0, 1, 2, 5, 40])
def test_delay_is_within_the_exponential_ceiling_and_the_cap(retries):
    rng = random.Random(retries)
    delays = [
        retry_delay_s(retries, base_s=1.0, cap_s=30.0, rng=rng) for _ in range(200)
    ]

    ceiling = min(30.0, 2.0**retries)
    assert all(0.0 <= delay <= ceiling for delay in delays)


def test_delay_is_jittered():
    rng = random.Random(7)
    delays = {retry_delay_s(3, base_s=1.0, cap_s=30.0, rng=rng) for _ in range(20)}

    assert len(delays) > 10


def test_retry_after_is_a_floor():
    rng = random.Random(1)

    delay = retry_delay_s(0, base_s=1.0, cap_s=30.0, retry_after_s=12.0, rng=rng)

    assert delay == 12.0


def test_retry_after_beyond_the_cap_is_capped():
    delay = retry_delay_s(0, base_s=1.0, cap_s=30.0, retry_after_s=86_400.0)

    assert delay == 30.0
