"""Retry-or-fail decisions after an upstream error."""

import random

from workers.jobs.endings import retry_delay_for
from workers.openrouter.errors import (
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamUnavailable,
)

LIMITS = {"max_retries": 3, "base_s": 1.0, "cap_s": 60.0}


def test_permanent_error_fails_at_once():
    error = UpstreamBadRequest("bad", http_status=400)

    assert retry_delay_for(error, retries=0, **LIMITS) is None


def test_retryable_error_within_budget_is_retried_with_backoff():
    error = UpstreamUnavailable("down", http_status=503)

    delay = retry_delay_for(error, retries=2, rng=random.Random(3), **LIMITS)

    assert delay is not None
    assert 0.0 <= delay <= 4.0


def test_retryable_error_waits_at_least_retry_after():
    error = UpstreamRateLimited("slow", http_status=429, retry_after_s=20.0)

    assert retry_delay_for(error, retries=0, **LIMITS) == 20.0


def test_retryable_error_fails_once_the_budget_is_spent():
    error = UpstreamUnavailable("down", http_status=503)

    assert retry_delay_for(error, retries=3, **LIMITS) is None
