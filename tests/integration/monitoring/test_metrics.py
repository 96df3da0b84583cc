"""GET /metrics: computed from shared state, so every process's counts add up."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import text

from broker_api.app import create_app
from shared.jobs import AttemptOutcome
from shared.queues import tenant_queue
from shared.task_messages import redis_list_key
from workers.jobs.records import AttemptRecord
from workers.runtime import heartbeat
from workers.runtime.metrics import (
    add_attempt,
    add_rate_limit_wait,
    record_webhook_delivery,
)

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-4o-mini"
METRICS_TOKEN = "m-token-123456"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def api_settings(api_settings):
    """The production shape: Prometheus scrapes with the metrics token."""
    return api_settings.model_copy(
        update={"helixq_metrics_token": SecretStr(METRICS_TOKEN)}
    )


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _attempt(latency_ms: int, cost: str) -> AttemptRecord:
    return AttemptRecord(
        job_id=uuid4(),
        model=MODEL,
        provider="OpenAI",
        outcome=AttemptOutcome.SUCCEEDED,
        started_at=datetime.now(UTC),
        latency_ms=latency_ms,
        prompt_tokens=10,
        completion_tokens=5,
        cost_usd=Decimal(cost),
    )


async def _scrape(api) -> dict:
    answer = await api.get("/metrics", headers=METRICS_HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return _samples(answer.text)


async def test_metrics_show_queue_depth_per_tenant(
    api, tenant, other_tenant, redis_client
) -> None:
    message = json.dumps({"body": "x"})
    redis_client.lpush(tenant_queue(tenant.slug), message, message)
    redis_client.lpush(redis_list_key(tenant_queue(tenant.slug), 6), message)
    redis_client.lpush(redis_list_key(tenant_queue(other_tenant.slug), 3), message)
    samples = await _scrape(api)
    assert _value(samples, "helixq_queue_depth", tenant=tenant.slug) == 3
    assert _value(samples, "helixq_queue_depth", tenant=other_tenant.slug) == 1


async def test_counters_from_two_processes_add_up(api, services, redis_client) -> None:
    # Two clients stand for two worker processes: both write the shared hash.
    first, second = (AsyncRedis.from_url(services.redis_url) for _ in range(2))
    try:
        for client, attempt in (
            (first, _attempt(300, "0.25")),
            (second, _attempt(3000, "0.5")),
        ):
            pipe = client.pipeline(transaction=False)
            add_attempt(pipe, attempt, "acme")
            await pipe.execute()
        for client, wait_s in ((first, 1.5), (second, 0.5)):
            pipe = client.pipeline(transaction=False)
            add_rate_limit_wait(pipe, "OpenAI", wait_s)
            await pipe.execute()
    finally:
        await first.aclose()
        await second.aclose()
    record_webhook_delivery(redis_client, "succeeded")
    samples = await _scrape(api)
    labels = {"model": MODEL, "provider": "OpenAI"}
    assert _value(samples, "helixq_attempts_total", outcome="succeeded", **labels) == 2
    spent = {**labels, "tenant": "acme"}
    assert _value(samples, "helixq_cost_usd_total", **spent) == pytest.approx(0.75)
    assert _value(samples, "helixq_tokens_total", kind="prompt", **spent) == 20
    assert (
        _value(samples, "helixq_attempt_latency_seconds_bucket", le="0.5", **labels)
        == 1
    )
    assert (
        _value(samples, "helixq_attempt_latency_seconds_bucket", le="5.0", **labels)
        == 2
    )
    assert _value(samples, "helixq_attempt_latency_seconds_count", **labels) == 2
    assert _value(
        samples, "helixq_attempt_latency_seconds_sum", **labels
    ) == pytest.approx(3.3)
    assert _value(samples, "helixq_rate_limit_waits_total", scope="OpenAI") == 2
    assert (
        _value(samples, "helixq_rate_limit_wait_seconds_total", scope="OpenAI") == 2.0
    )
    assert _value(samples, "helixq_webhook_deliveries_total", outcome="succeeded") == 1


async def test_metrics_show_jobs_and_oldest_due_age(
    api, tenant, add_attempt, engine, committed_jobs
) -> None:
    add_attempt(tenant.slug, started_at=datetime.now(UTC))  # a succeeded job
    committed_jobs.append(queued := uuid4())
    with engine.begin() as connection:  # a queued job, due for 90 s
        connection.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, status, request, available_at)"
                " SELECT :id, id, 'queued', '{}', now() - interval '90 seconds'"
                " FROM tenants WHERE slug = :slug"
            ),
            {"id": queued, "slug": tenant.slug},
        )
    samples = await _scrape(api)
    assert _value(samples, "helixq_jobs", tenant=tenant.slug, status="succeeded") == 1
    assert _value(samples, "helixq_jobs", tenant=tenant.slug, status="queued") == 1
    age_s = _value(samples, "helixq_queue_oldest_job_age_seconds", tenant=tenant.slug)
    assert 90 <= age_s < 120


async def test_metrics_count_live_workers(api, redis_client) -> None:
    heartbeat.beat(redis_client, "worker1@host")
    heartbeat.beat(redis_client, "worker2@host")
    samples = await _scrape(api)
    assert _value(samples, "helixq_workers_alive") == 2


async def _get_metrics(
    settings, enqueuer, headers: dict[str, str] | None = None
) -> httpx.Response:
    app = create_app(settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t"
        ) as client:
            return await client.get("/metrics", headers=headers)


async def test_metrics_token_is_asked_for_when_configured(
    api_settings, enqueuer
) -> None:
    assert (await _get_metrics(api_settings, enqueuer)).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await _get_metrics(api_settings, enqueuer, wrong)).status_code == 401
    answer = await _get_metrics(api_settings, enqueuer, METRICS_HEADERS)
    assert answer.status_code == 200


async def test_metrics_are_closed_without_a_token(
    api_settings, enqueuer, tenant
) -> None:
    """Tenant slugs are labels: an API without a token shows them to no one."""
    settings = api_settings.model_copy(update={"helixq_metrics_token": None})
    for headers in (None, METRICS_HEADERS, tenant.headers):
        answer = await _get_metrics(settings, enqueuer, headers)
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "metrics_closed"
        assert "HELIXQ_METRICS_TOKEN" in error["message"]
        assert tenant.slug not in answer.text


async def test_metrics_open_serves_without_a_token(
    api_settings, enqueuer, tenant
) -> None:
    settings = api_settings.model_copy(
        update={"helixq_metrics_token": None, "helixq_metrics_open": True}
    )
    answer = await _get_metrics(settings, enqueuer)
    assert answer.status_code == 200
    assert "helixq_workers_alive" in answer.text


async def test_a_metrics_token_is_asked_for_even_when_open(
    api_settings, enqueuer
) -> None:
    settings = api_settings.model_copy(update={"helixq_metrics_open": True})
    assert (await _get_metrics(settings, enqueuer)).status_code == 401
    answer = await _get_metrics(settings, enqueuer, METRICS_HEADERS)
    assert answer.status_code == 200


async def test_metrics_show_the_ledgers_open_costs_and_unattributed_differences(
    api, tenant, add_attempt, engine
) -> None:
    job_id = add_attempt(tenant.slug, started_at=datetime.now(UTC))
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE attempts SET cost_source = 'unknown',"
                " cost_note = 'no price' WHERE job_id = :job"
            ),
            {"job": job_id},
        )
        connection.execute(
            text(
                "INSERT INTO cost_differences (day, model, upstream_key,"
                " upstream_usd, ledger_usd, difference_usd, attributed_usd)"
                " VALUES (current_date, 'test/metrics', 'default', 2, 1.5, 0.5,"
                " 0.125)"
            )
        )
    try:
        samples = await _scrape(api)
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM cost_differences WHERE model = 'test/metrics'")
            )
    assert _value(samples, "helixq_cost_unattributed_usd", model="test/metrics") == (
        0.375
    )
    assert _value(samples, "helixq_ledger_open_attempts", cost_source="unknown") >= 1
