"""Recorders of the shared monitoring counters (read by the API's `/metrics`).

Every worker process adds to the same Redis hash, so the totals are right however
many processes run. A counter that fails to record is logged and dropped: monitoring
must never fail a job (Postgres keeps the ledger).
"""

import logging

import redis
import redis.exceptions
from redis.asyncio.client import Pipeline as AsyncPipeline

from shared import redis_keys
from shared.metrics import (
    FIRST_TOKEN,
    LATENCY,
    UNKNOWN_PROVIDER,
    Counter,
    Histogram,
    counter_field,
)
from workers.jobs.records import AttemptRecord

logger = logging.getLogger(__name__)

_REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


def add_attempt(pipe: AsyncPipeline, attempt: AttemptRecord, tenant: str) -> None:
    """Queue the counting of one upstream call on `pipe`: by outcome, its latency
    (and a streamed call's time to its first chunk), tokens and cost, the last two
    per tenant (the caller sends it with the job's other Redis writes). The cost is
    the one first recorded, reported or estimated; the reconciler corrects the
    ledger, not this counter."""
    key = redis_keys.monitoring_counters()
    model, provider = attempt.model, attempt.provider or UNKNOWN_PROVIDER
    pipe.hincrby(key, counter_field(Counter.ATTEMPTS, model, provider, attempt.outcome))
    _observe(pipe, LATENCY, (model, provider), attempt.latency_ms / 1000)
    if attempt.first_token_ms is not None:
        _observe(pipe, FIRST_TOKEN, (model, provider), attempt.first_token_ms / 1000)
    details = attempt.details
    for kind, tokens in (
        ("prompt", attempt.prompt_tokens),
        ("completion", attempt.completion_tokens),
        ("cached", details.cached_tokens),
        ("cache_write", details.cache_write_tokens),
        ("reasoning", details.reasoning_tokens),
    ):
        if tokens:
            field = counter_field(Counter.TOKENS, tenant, model, provider, kind)
            pipe.hincrby(key, field, tokens)
    if attempt.cost_usd:
        field = counter_field(Counter.COST_USD, tenant, model, provider)
        pipe.hincrbyfloat(key, field, float(attempt.cost_usd))


def _observe(
    pipe: AsyncPipeline, histogram: Histogram, labels: tuple[str, str], value_s: float
) -> None:
    key = redis_keys.monitoring_counters()
    bucket = histogram.bucket(value_s)
    pipe.hincrby(key, counter_field(histogram.bucket_counter, *labels, bucket))
    pipe.hincrbyfloat(key, counter_field(histogram.sum_counter, *labels), value_s)


def add_rate_limit_wait(pipe: AsyncPipeline, scope: str, wait_s: float) -> None:
    """Queue on `pipe` the counting of one wait for a rate-limit token, `scope`
    being the provider whose buckets made the call wait."""
    key = redis_keys.monitoring_counters()
    pipe.hincrby(key, counter_field(Counter.RATE_LIMIT_WAITS, scope))
    pipe.hincrbyfloat(key, counter_field(Counter.RATE_LIMIT_WAIT_S, scope), wait_s)


def record_webhook_delivery(client: redis.Redis, outcome: str) -> None:
    """Count one webhook delivery try by its outcome (delivered, retrying, ...)."""
    field = counter_field(Counter.WEBHOOK_DELIVERIES, outcome)
    try:
        client.hincrby(redis_keys.monitoring_counters(), field)
    except _REDIS_ERRORS as error:
        logger.warning("webhook metrics not recorded: %r", error)


def record_budget_alert(client: redis.Redis, tenant: str, threshold_pct: int) -> None:
    """Count one budget threshold reached (a `budget.threshold_reached` event)."""
    field = counter_field(Counter.BUDGET_ALERTS, tenant, str(threshold_pct))
    try:
        client.hincrby(redis_keys.monitoring_counters(), field)
    except _REDIS_ERRORS as error:
        logger.warning("budget alert metric not recorded: %r", error)
