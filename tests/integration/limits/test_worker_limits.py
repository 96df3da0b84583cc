"""The worker side of the limits: deferral without a retry, cool-downs shared by
processes, budgets and running caps, on real Postgres and Redis."""

import asyncio
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from shared import budget, redis_keys
from shared.jobs import JobStatus
from shared.metrics import Counter, counter_field
from shared.queues import tenant_queue
from tests.factories import make_job_body
from tests.integration.workers.conftest import (
    ListSender,
    fetch_attempts,
    fetch_job,
    insert_attempt,
)
from tests.unit.workers.payloads import completion_body, error_body
from workers.jobs.endings import OutcomeKind

pytestmark = pytest.mark.timeout(30)


def _run(ctx, job_id):
    return ctx.loop.run(ctx.completions.run(job_id))


def _set_limits(engine, tenant, limits):
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET limits = CAST(:limits AS jsonb) WHERE id = :id"),
            {"limits": json.dumps(limits), "id": tenant["id"]},
        )


def test_a_job_without_a_token_is_deferred_without_using_a_retry(
    make_context, openrouter_mock, make_job, engine, tenant
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    sender = ListSender()
    ctx = make_context(sender, helixq_provider_limits="openai=1rpm/burst=1")
    first, second = make_job(), make_job()

    assert _run(ctx, first).kind is OutcomeKind.SUCCEEDED
    outcome = _run(ctx, second)

    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 1
    job = fetch_job(engine, second)
    assert (job.status, job.retries, job.started_at) == (JobStatus.QUEUED, 0, None)
    assert fetch_attempts(engine, second) == []
    [(job_id, queue, countdown_s)] = sender.sent
    assert (job_id, queue) == (second, tenant_queue(tenant["slug"]))
    assert 55 < countdown_s <= 60  # a minute a token, less the horizon


def test_the_tokens_a_call_did_not_use_go_back_to_the_bucket(
    make_context, openrouter_mock, make_job, engine, tenant
):
    # Each job's estimate (its prompt and max_tokens 1500) takes most of the
    # tenant's 2000 tokens; the call reports 15 (completion_body), and the rest
    # goes back, so the next job has its tokens at once.
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    _set_limits(engine, tenant, {"providers": "openai=60tpm/tburst=2000"})
    ctx = make_context()
    body = json.dumps(make_job_body(max_tokens=1500))
    jobs = [make_job(request=body) for _ in range(3)]

    outcomes = [_run(ctx, job_id).kind for job_id in jobs]

    assert outcomes == [OutcomeKind.SUCCEEDED] * 3
    assert route.call_count == 3


def test_an_upstream_429_cools_the_model_down_for_another_process(
    make_context, openrouter_mock, make_job, engine
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(
            429, json=error_body(429, "slow down"), headers={"Retry-After": "30"}
        )
    )
    first_process, second_process = make_context(), make_context()
    limited, waiting = make_job(), make_job()

    assert _run(first_process, limited).kind is OutcomeKind.RETRY
    calls_before = route.call_count
    outcome = _run(second_process, waiting)

    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == calls_before  # the second process made no call
    job = fetch_job(engine, waiting)
    assert (job.status, job.retries) == (JobStatus.QUEUED, 0)


def test_a_job_the_budget_cannot_cover_fails_with_budget_exceeded(
    make_context, openrouter_mock, make_job, engine, tenant
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    # A model the catalog has no price for is estimated at nothing, so a job needs
    # only some room left (other tests may have filled the catalog).
    _set_limits(engine, tenant, {"monthly_budget_usd": "0.0000036"})
    ctx = make_context()
    unpriced = json.dumps(make_job_body(model="test/unpriced-model"))
    paid, refused = make_job(request=unpriced), make_job(request=unpriced)

    assert _run(ctx, paid).kind is OutcomeKind.SUCCEEDED  # costs $0.0000036
    assert _run(ctx, refused).kind is OutcomeKind.NOT_CLAIMED

    assert route.call_count == 1
    job = fetch_job(engine, refused)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "budget_exceeded")
    spent = ctx.loop.run(_spent(ctx, tenant["slug"]))
    assert spent == (Decimal("0.0000036"), Decimal(0))


def test_an_answer_without_cost_counts_in_the_budget_at_its_estimate(
    make_context, openrouter_mock, make_job, engine, tenant, priced_model
):
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(
            200, json=completion_body(model=priced_model, usage=usage)
        )
    )
    _set_limits(engine, tenant, {"monthly_budget_usd": "1"})
    ctx = make_context()
    job_id = make_job(request=json.dumps(make_job_body(model=priced_model)))

    assert _run(ctx, job_id).kind is OutcomeKind.SUCCEEDED

    # $1 per million prompt tokens, $2 per million completion tokens: not $0.
    expected = Decimal("0.000012") + Decimal("0.000006")
    assert ctx.loop.run(_spent(ctx, tenant["slug"])) == (expected, Decimal(0))


async def _spent(ctx, slug):
    month = budget.month_of(datetime.now(UTC))
    key = f"broker:tenant:{slug}:budget:{month}"
    spent, reserved = await ctx.redis_async.hmget(key, "spent", "reserved")
    return budget.from_nano(int(spent or 0)), budget.from_nano(int(reserved or 0))


def test_a_ledger_redis_lost_is_rebuilt_from_the_attempts(
    make_context, openrouter_mock, make_job, engine, tenant
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    earlier = make_job(status="succeeded")
    insert_attempt(engine, earlier, cost_usd=Decimal("2.5"))  # in the record only
    _set_limits(engine, tenant, {"monthly_budget_usd": "2.50"})
    ctx = make_context()
    refused = make_job()

    assert _run(ctx, refused).kind is OutcomeKind.NOT_CLAIMED

    assert route.call_count == 0
    job = fetch_job(engine, refused)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "budget_exceeded")
    assert ctx.loop.run(_spent(ctx, tenant["slug"])) == (Decimal("2.5"), Decimal(0))


def test_running_cap_defers_a_job_while_the_tenant_runs_its_most(
    make_context, openrouter_mock, make_job, engine, tenant
):
    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    _set_limits(engine, tenant, {"max_running": 1})
    sender = ListSender()
    ctx = make_context(sender)
    holder, waiting = make_job(), make_job()
    held = ctx.loop.run(
        ctx.completions.limits.parts.running.take(tenant["slug"], holder, limit=1)
    )

    outcome = _run(ctx, waiting)

    assert held
    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert fetch_job(engine, waiting).retries == 0
    assert sender.sent[0][2] == pytest.approx(1.0)
    ctx.loop.run(ctx.completions.limits.parts.running.give_back(tenant["slug"], holder))
    with engine.begin() as connection:  # its countdown is over
        connection.execute(
            text("UPDATE jobs SET available_at = now() WHERE id = :id"), {"id": waiting}
        )
    assert _run(ctx, waiting).kind is OutcomeKind.SUCCEEDED


def test_a_wait_for_tokens_is_counted_for_the_metrics(
    make_context, openrouter_mock, make_job, redis_client
):
    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    # Two calls a second, one at once: the second job waits about half a second,
    # within the horizon, instead of being deferred.
    ctx = make_context(helixq_provider_limits="openai=2rps/burst=1")
    key = redis_keys.monitoring_counters()
    waits = counter_field(Counter.RATE_LIMIT_WAITS, "openai")
    waited_s = counter_field(Counter.RATE_LIMIT_WAIT_S, "openai")
    before = int(redis_client.hget(key, waits) or 0)

    outcomes = [_run(ctx, make_job()).kind for _ in range(2)]

    assert outcomes == [OutcomeKind.SUCCEEDED] * 2
    assert int(redis_client.hget(key, waits) or 0) == before + 1
    assert float(redis_client.hget(key, waited_s)) > 0.2


def _arrivals(openrouter_mock) -> list[float]:
    """When each chat completion reached the mocked upstream, as it answers."""
    arrived: list[float] = []

    def answer(_request: httpx.Request) -> httpx.Response:
        arrived.append(time.time())
        return httpx.Response(200, json=completion_body())

    openrouter_mock.post("/chat/completions").mock(side_effect=answer)
    return arrived


def test_a_waiting_job_writes_its_attempt_before_its_slot_and_calls_at_it(
    make_context, openrouter_mock, make_job, engine
):
    # The upstream counts calls as they arrive: a call whose attempt row were
    # written after its slot would leave that write's latency late, and calls
    # late by different amounts bunch. Two calls a second, one at once.
    arrived = _arrivals(openrouter_mock)
    ctx = make_context(
        helixq_provider_limits="openai=2rps/burst=1", helixq_limit_send_lead_s=0.4
    )
    first, second = make_job(), make_job()

    outcomes = [_run(ctx, job_id).kind for job_id in (first, second)]

    assert outcomes == [OutcomeKind.SUCCEEDED] * 2
    assert arrived[1] - arrived[0] >= 0.45  # the second call waited for its slot
    [attempt] = fetch_attempts(engine, second)
    assert arrived[1] - attempt.started_at.timestamp() >= 0.2  # begun before it


def test_a_call_late_for_its_slot_takes_new_tokens(
    make_context, openrouter_mock, make_job
):
    # Slow attempt-row writes make the first call (tokens at once) leave 0.2 s
    # after its slot. Counted at its slot, it would let the second call go
    # 0.3 s after it, where two calls a second (one at once) allow 0.5 s.
    arrived = _arrivals(openrouter_mock)
    ctx = make_context(
        helixq_provider_limits="openai=2rps/burst=1", helixq_limit_send_lead_s=0.25
    )
    endings = ctx.completions._endings
    begin = endings.begin

    async def slow_begin(*args, **kwargs):
        await asyncio.sleep(0.2)
        return await begin(*args, **kwargs)

    endings.begin = slow_begin
    outcomes = [_run(ctx, make_job()).kind for _ in range(2)]

    assert outcomes == [OutcomeKind.SUCCEEDED] * 2
    assert arrived[1] - arrived[0] >= 0.45
