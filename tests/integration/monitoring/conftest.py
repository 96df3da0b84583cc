"""Monitoring fixtures: the in-process API (tests.integration.api), the paced
simulator process (tests.integration.simulator) and a builder of committed jobs
with attempts."""

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.factories import make_job_body
from tests.integration.api.conftest import (  # noqa: F401 (fixtures)
    ADMIN_TOKEN,
    anyio_backend,
    api,
    api_settings,
    enqueuer,
    other_tenant,
    tenant,
)
from tests.integration.simulator.conftest import simulator_url  # noqa: F401 (fixture)

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def committed_jobs(engine: Engine) -> Iterator[list[uuid.UUID]]:
    """Ids of jobs a test commits; deleted (with their attempts) after it."""
    job_ids: list[uuid.UUID] = []
    yield job_ids
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM jobs WHERE id = ANY(:ids)"), {"ids": job_ids}
        )


@pytest.fixture
def add_attempt(
    engine: Engine, committed_jobs: list[uuid.UUID]
) -> Callable[..., uuid.UUID]:
    """Commit one job of tenant `slug` with one attempt: `add_attempt(slug,
    model=..., cost_usd=Decimal(...), started_at=..., latency_ms=...)`."""

    def insert(
        slug: str,
        *,
        started_at: datetime,
        model: str = "openai/gpt-4o-mini",
        provider: str | None = "OpenAI",
        outcome: str = "succeeded",
        latency_ms: int = 500,
        prompt_tokens: int | None = 10,
        completion_tokens: int | None = 5,
        cost_usd: Decimal | None = None,
        strategy: str | None = None,
    ) -> uuid.UUID:
        job_id = uuid.uuid4()
        committed_jobs.append(job_id)
        routing = None if strategy is None else json.dumps({"strategy": strategy})
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs (id, tenant_id, status, request, routing)"
                    " SELECT :id, id, 'succeeded', CAST(:request AS jsonb),"
                    " CAST(:routing AS jsonb) FROM tenants WHERE slug = :slug"
                ),
                {
                    "id": job_id,
                    "slug": slug,
                    "request": json.dumps(make_job_body()),
                    "routing": routing,
                },
            )
            connection.execute(
                text(
                    "INSERT INTO attempts (id, job_id, number, model, provider,"
                    " outcome, latency_ms, prompt_tokens, completion_tokens,"
                    " cost_usd, started_at) VALUES (:attempt_id, :job_id, 1, :model,"
                    " :provider, :outcome, :latency_ms, :prompt_tokens,"
                    " :completion_tokens, :cost_usd, :started_at)"
                ),
                {
                    "attempt_id": uuid.uuid4(),
                    "job_id": job_id,
                    "model": model,
                    "provider": provider,
                    "outcome": outcome,
                    "latency_ms": latency_ms,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "cost_usd": cost_usd,
                    "started_at": started_at,
                },
            )
        return job_id

    return insert


def by_key(rows: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], Any]:
    """Rows of a report indexed by the values of `keys`."""
    return {tuple(row[key] for key in keys): row for row in rows}
