"""Time to first token of real streamed jobs: a real worker calls the simulator
process (its tokens paced) with `stream: true`, and `/v1/stats`, `/metrics` and the
dashboard show what the attempts measured."""

import asyncio
import json
import statistics
import uuid
from collections.abc import Iterator

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from shared.metrics import FIRST_TOKEN
from shared.settings import load_settings
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.integration.monitoring.conftest import by_key
from tests.integration.simulator.conftest import LATENCY_MS, TOKEN_INTERVAL_MS
from tests.integration.workers.conftest import (
    ListDeliverySender,
    ListPublisher,
    ListSender,
)
from tests.services import Services
from workers.jobs.endings import OutcomeKind
from workers.runtime.process import WorkerProcess, build_process
from workers.runtime.settings import WorkerSettings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

MODEL = "openai/gpt-4o-mini"
STREAMED_JOBS = 4


@pytest.fixture
def api_settings(api_settings):
    return api_settings.model_copy(update={"helixq_metrics_open": True})


@pytest.fixture
def worker(
    services: Services, simulator_url: str, redis_client
) -> Iterator[WorkerProcess]:
    """A worker process calling the simulator over a real socket."""
    settings = load_settings(
        WorkerSettings,
        database_url=services.database_url,
        redis_url=services.redis_url,
        openrouter_api_key="sk-or-v1-integration",
        openrouter_base_url=f"{simulator_url}/api/v1",
        database_pool_size=2,
        database_max_overflow=2,
    )
    sender, deliveries = ListSender(), ListDeliverySender()
    process = build_process(
        settings,
        sender=sender,
        deliveries=deliveries,
        publisher=ListPublisher(sender, deliveries),
    )
    yield process
    process.close()


def _insert_jobs(engine: Engine, slug: str, *, streamed: int) -> list[uuid.UUID]:
    """`streamed` jobs submitted with `stream: true`, then one without."""
    bodies = [make_job_body(model=MODEL, stream=True) for _ in range(streamed)]
    bodies.append(make_job_body(model=MODEL))
    job_ids = [uuid.uuid4() for _ in bodies]
    with engine.begin() as connection:
        for job_id, body in zip(job_ids, bodies, strict=True):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, tenant_id, status, request)"
                    " SELECT :id, id, 'queued', CAST(:request AS jsonb)"
                    " FROM tenants WHERE slug = :slug"
                ),
                {"id": job_id, "slug": slug, "request": json.dumps(body)},
            )
    return job_ids


def _run_jobs(worker: WorkerProcess, job_ids: list[uuid.UUID]) -> None:
    async def run_all() -> list[OutcomeKind]:
        outcomes = await asyncio.gather(*map(worker.completions.run, job_ids))
        return [outcome.kind for outcome in outcomes]

    assert worker.loop.run(run_all()) == [OutcomeKind.SUCCEEDED] * len(job_ids)


def _first_token_ms(engine: Engine, job_ids: list[uuid.UUID]) -> list[int | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT first_token_ms, latency_ms FROM attempts"
                " WHERE job_id = ANY(:ids) ORDER BY array_position(:ids, job_id)"
            ),
            {"ids": job_ids},
        ).all()
    for first_token_ms, latency_ms in rows:
        if first_token_ms is not None:  # the tokens came after the first one
            assert first_token_ms + TOKEN_INTERVAL_MS <= latency_ms
    return [row.first_token_ms for row in rows]


async def test_stats_metrics_and_dashboard_show_the_time_to_first_token(
    api, tenant: TenantCredentials, worker: WorkerProcess, engine: Engine
) -> None:
    job_ids = _insert_jobs(engine, tenant.slug, streamed=STREAMED_JOBS)
    await anyio.to_thread.run_sync(_run_jobs, worker, job_ids)
    measured = _first_token_ms(engine, job_ids)
    first_tokens = measured[:STREAMED_JOBS]
    assert measured[STREAMED_JOBS] is None  # the job that did not stream
    assert all(LATENCY_MS <= ms < LATENCY_MS + 1000 for ms in first_tokens)

    stats = await api.get("/v1/stats", params={"window": "1h"}, headers=tenant.headers)
    assert stats.status_code == 200, stats.text
    row = by_key(stats.json()["models"], "key")[(MODEL,)]
    assert (row["requests"], row["streamed"]) == (STREAMED_JOBS + 1, STREAMED_JOBS)
    assert row["first_token_ms_p50"] == pytest.approx(statistics.median(first_tokens))
    assert row["first_token_ms_p99"] <= max(first_tokens)
    assert row["first_token_ms_p50"] < row["latency_ms_p50"]

    scrape = await api.get("/metrics")
    assert scrape.status_code == 200, scrape.text
    samples = {
        (sample.name, sample.labels.get("le")): sample.value
        for family in text_string_to_metric_families(scrape.text)
        if family.name == "helixq_attempt_first_token_seconds"
        for sample in family.samples
        if sample.labels["model"] == MODEL
    }
    name = "helixq_attempt_first_token_seconds"
    assert samples[(f"{name}_count", None)] == STREAMED_JOBS
    assert samples[(f"{name}_sum", None)] == pytest.approx(
        sum(first_tokens) / 1000, abs=0.001
    )
    for le in FIRST_TOKEN.labels():
        bound = float(le)
        expected = sum(ms / 1000 <= bound for ms in first_tokens)
        assert samples[(f"{name}_bucket", le)] == expected, le

    board = await api.get(
        "/dashboard/data", params={"window": "15m"}, headers=tenant.headers
    )
    assert board.status_code == 200, board.text
    (series,) = [m for m in board.json()["models"] if m["model"] == MODEL]
    assert series["first_token_p50_ms"] == pytest.approx(
        statistics.median(first_tokens)
    )
    assert any(p["first_token_p50_ms"] is not None for p in series["points"])
