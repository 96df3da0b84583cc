"""Upstream health checks: what a worker stores, how the API reads it (pure).

A beat task calls OpenRouter's `GET /key` once a minute and stores one check in
Redis (`redis_keys.upstream_health_checks()`); the API, which never calls OpenRouter,
reads the checks for `/readyz`, `/metrics` and `GET /v1/stats`.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ValidationError

# Older than this, the last check says nothing about now: beat or workers are down.
STALE_AFTER = timedelta(minutes=3)


class UpstreamCheck(BaseModel):
    """One call to OpenRouter's `GET /key` and what it showed."""

    ok: bool
    status: int | None  # HTTP status; None when no answer came
    latency_ms: int | None
    checked_at: datetime
    reason: str | None = None  # why not ok, in words


def parse_checks(raw: Iterable[bytes | str]) -> list[UpstreamCheck]:
    """The stored checks, newest first; unreadable entries are skipped."""
    checks = []
    for item in raw:
        try:
            checks.append(UpstreamCheck.model_validate_json(item))
        except ValidationError:
            continue
    return checks


def is_stale(check: UpstreamCheck, now: datetime) -> bool:
    """Whether the check is too old to describe the upstream now."""
    return now - check.checked_at > STALE_AFTER
