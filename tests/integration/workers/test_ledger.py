"""The ledger against real Postgres and Redis, OpenRouter mocked: every figure an
answer reports lands on its attempt, a missing cost is estimated and marked so,
the reconciler replaces estimates by OpenRouter's figures (after the 404s of a
generation not known yet), and the account's activity is attributed to the calls
nobody could price."""

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.cost import IN_FLIGHT_NOTE, NO_COST_NOTE
from shared.db.models import Tenant
from shared.jobs import CostSource
from shared.openrouter_key_store import set_openrouter_key
from shared.sealing import SecretBox
from tests.factories import make_job_body
from tests.integration.workers.conftest import (
    BASE_URL,
    fetch_attempts,
    fetch_job,
    insert_attempt,
)
from tests.unit.workers.payloads import GENERATION_ID, completion_body
from workers.maintenance.cost_reconciliation import (
    ReconcilerConfig,
    ReconcileReport,
    check_activity,
    reconcile_costs,
    tenants_keys,
    workers_key,
)

pytestmark = pytest.mark.timeout(30)

STREAM_HEAD = {"id": "gen-1-early", "object": "chat.completion.chunk", "created": 1}
STREAM_HEAD |= {"model": "openai/gpt-4o-mini", "provider": "OpenAI"}
TENANT_KEY = "sk-or-v1-" + "7e" * 32
SEALING = "the sealing key of the ledger's integration tests"
USAGE_WITHOUT_COST = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


def _reconciler(**overrides) -> ReconcilerConfig:
    return ReconcilerConfig(**{"base_url": BASE_URL, "activity_days": 0, **overrides})


def _http(openrouter_mock) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(openrouter_mock.handler))


def _generation(**data) -> httpx.Response:
    return httpx.Response(200, json={"data": {"id": GENERATION_ID, **data}})


def _job_on(make_job, model: str, **body):
    return make_job(request=json.dumps(make_job_body(model=model, **body)))


def _answered_without_cost(worker_process, openrouter_mock, make_job, model):
    """Run a job on `model` whose answer reports tokens but no cost; its id."""
    body = completion_body(model=model, usage=USAGE_WITHOUT_COST)
    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=body)
    )
    job_id = _job_on(make_job, model)
    worker_process.loop.run(worker_process.completions.run(job_id))
    return job_id


def test_an_answer_without_cost_is_estimated_then_reconciled_after_404s(
    worker_process, worker_settings, openrouter_mock, make_job, engine, priced_model
):
    job_id = _answered_without_cost(
        worker_process, openrouter_mock, make_job, priced_model
    )

    (attempt,) = fetch_attempts(engine, job_id)
    # $1 per million prompt tokens, $2 per million completion tokens.
    estimate = Decimal("0.000012") + Decimal("0.000006")
    assert attempt.cost_source == CostSource.ESTIMATED
    assert attempt.cost_usd == estimate
    assert attempt.cost_note == NO_COST_NOTE
    assert fetch_job(engine, job_id).cost_usd == estimate  # budgets and usage see it

    lookups = openrouter_mock.get("/generation").mock(
        side_effect=[
            httpx.Response(404, json={"error": {"code": 404, "message": "Not found"}}),
            _generation(
                total_cost=0.0000201,
                native_tokens_prompt=13,
                native_tokens_completion=3,
                native_tokens_reasoning=0,
                native_tokens_cached=4,
                is_byok=False,
                provider_name="OpenAI",
            ),
        ]
    )
    config = _reconciler(first_check_s=0.05)
    with _http(openrouter_mock) as http:
        first = reconcile_costs(
            worker_process.sessions, http, config, workers_key(worker_settings)
        )
        assert (first.reconciled, first.not_yet) == (0, 1)
        early = reconcile_costs(
            worker_process.sessions, http, config, workers_key(worker_settings)
        )
        assert early.reconciled == 0  # not due yet: its backoff runs
        asyncio.run(asyncio.sleep(0.1))
        second = reconcile_costs(
            worker_process.sessions, http, config, workers_key(worker_settings)
        )

    assert second.reconciled == 1
    assert lookups.call_count == 2
    assert lookups.calls[0].request.url.params["id"] == GENERATION_ID
    auth = lookups.calls[0].request.headers["authorization"]
    assert auth == "Bearer sk-or-v1-integration"
    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.cost_source == CostSource.RECONCILED
    assert attempt.cost_usd == Decimal("0.0000201")
    assert attempt.cost_note is None
    assert (attempt.prompt_tokens, attempt.cached_tokens) == (13, 4)
    assert fetch_job(engine, job_id).cost_usd == Decimal("0.0000201")


def test_a_generation_never_known_keeps_its_estimate_with_a_reason(
    worker_process, worker_settings, openrouter_mock, make_job, engine, priced_model
):
    job_id = _answered_without_cost(
        worker_process, openrouter_mock, make_job, priced_model
    )
    openrouter_mock.get("/generation").mock(return_value=httpx.Response(404))
    config = _reconciler(first_check_s=0.001, max_check_s=0.001, tries=2)

    with _http(openrouter_mock) as http:
        for _ in range(3):
            reconcile_costs(
                worker_process.sessions, http, config, workers_key(worker_settings)
            )
            asyncio.run(asyncio.sleep(0.01))

    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.cost_checks == 2  # given up: never looked up a third time
    assert attempt.cost_source == CostSource.ESTIMATED
    assert attempt.cost_usd == Decimal("0.000018")
    assert "did not know this generation id after 2 looks" in attempt.cost_note


def test_byok_cached_and_reasoning_tokens_are_kept(
    worker_process, openrouter_mock, make_job, engine
):
    usage = {
        "prompt_tokens": 40,
        "completion_tokens": 30,
        "total_tokens": 70,
        "cost": 0.000001,
        "is_byok": True,
        "prompt_tokens_details": {"cached_tokens": 32, "cache_write_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 21},
        "cost_details": {"upstream_inference_cost": 0.00002},
    }
    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body(usage=usage))
    )
    job_id = make_job()

    worker_process.loop.run(worker_process.completions.run(job_id))

    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.cost_source == CostSource.REPORTED
    assert attempt.cost_note is None
    assert attempt.cost_usd == Decimal("0.000001")  # OpenRouter's BYOK fee
    assert attempt.is_byok is True
    assert attempt.upstream_inference_cost == Decimal("0.00002")
    assert (attempt.prompt_tokens, attempt.completion_tokens) == (40, 30)
    assert (attempt.cached_tokens, attempt.cache_write_tokens) == (32, 8)
    assert attempt.reasoning_tokens == 21
    assert attempt.generation_id == GENERATION_ID


def test_a_refused_call_is_unbilled_and_a_call_in_flight_is_at_its_reserve(
    worker_process, openrouter_mock, make_job, engine, priced_model
):
    release = asyncio.Event()
    seen = {}

    async def answer(request):
        (row,) = fetch_attempts(engine, job_id)
        seen["in_flight"] = row
        await release.wait()
        return httpx.Response(400, json={"error": {"code": 400, "message": "no"}})

    openrouter_mock.post("/chat/completions").mock(side_effect=answer)
    job_id = _job_on(make_job, priced_model, max_tokens=100)

    async def run():
        task = asyncio.create_task(worker_process.completions.run(job_id))
        while "in_flight" not in seen:
            await asyncio.sleep(0.01)
        release.set()
        return await task

    worker_process.loop.run(run())

    in_flight = seen["in_flight"]
    assert in_flight.outcome == "started"
    assert in_flight.cost_source == CostSource.ESTIMATED
    assert in_flight.cost_note == IN_FLIGHT_NOTE
    # The prompt estimate x $1/M plus max_tokens x $2/M.
    assert in_flight.cost_usd > Decimal(100) * Decimal("0.000002")
    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.outcome == "permanent"
    assert (attempt.cost_source, attempt.cost_usd) == (CostSource.UNBILLED, 0)
    assert attempt.cost_note


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def test_the_accounts_activity_is_attributed_to_the_calls_nobody_priced(
    worker_process, openrouter_mock, make_job, engine
):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    model = "openai/gpt-4o-mini"
    reported, lost_a, lost_b, pending = make_job(), make_job(), make_job(), make_job()
    insert_attempt(
        engine, reported, cost_usd=Decimal("0.5"), started_at=_day_start(yesterday)
    )
    for job_id, estimate in ((lost_a, "0.1"), (lost_b, "0.3"), (pending, "0.2")):
        insert_attempt(
            engine,
            job_id,
            outcome="interrupted",
            cost_usd=Decimal(estimate),
            started_at=_day_start(yesterday),
        )
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE attempts SET cost_source = CASE WHEN job_id = :reported"
                " THEN 'reported' ELSE 'estimated' END,"
                " cost_note = 'no answer recorded' WHERE job_id = ANY(:jobs)"
            ),
            {"reported": reported, "jobs": [reported, lost_a, lost_b, pending]},
        )
        # Its generation id is still to be looked up: not the account's to price.
        connection.execute(
            text("UPDATE attempts SET generation_id = 'gen-1-due' WHERE job_id = :j"),
            {"j": pending},
        )
    activity = openrouter_mock.get("/activity").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {
                        "date": str(yesterday),
                        "model": model,
                        "usage": 0.7,
                        "requests": 2,
                        "provider_name": "OpenAI",
                    },
                    {
                        "date": str(yesterday),
                        "model": model,
                        "usage": 0.8,
                        "requests": 1,
                        "provider_name": "Azure",
                    },
                ]
            },
        )
    )
    config = _reconciler(
        activity_days=1, management_key=SecretStr("sk-or-v1-management")
    )
    report = ReconcileReport()

    with _http(openrouter_mock) as http:
        check_activity(worker_process.sessions, http, config, report)

    assert report.days_checked == [yesterday]
    assert activity.calls[0].request.url.params["date"] == str(yesterday)
    auth = activity.calls[0].request.headers["authorization"]
    assert auth == "Bearer sk-or-v1-management"
    # 1.5 billed, 1.1 in the ledger: the 0.4 open doubles, split 1:3.
    costs = {job_id: fetch_attempts(engine, job_id)[0] for job_id in (lost_a, lost_b)}
    assert costs[lost_a].cost_usd == Decimal("0.1") * 2
    assert costs[lost_b].cost_usd == Decimal("0.3") * 2
    assert {row.cost_source for row in costs.values()} == {CostSource.ATTRIBUTED}
    with engine.connect() as connection:
        difference = connection.execute(
            text("SELECT * FROM cost_differences WHERE day = :day AND model = :model"),
            {"day": yesterday, "model": model},
        ).one()
    assert difference.upstream_usd == Decimal("1.5")
    assert difference.ledger_usd == Decimal("1.1")
    assert difference.difference_usd == Decimal("0.4")
    assert difference.attributed_attempts == 2
    assert (difference.upstream_requests, difference.ledger_requests) == (3, 4)
    assert fetch_attempts(engine, pending)[0].cost_source == CostSource.ESTIMATED

    with _http(openrouter_mock) as http:  # a second run finds nothing to move
        check_activity(worker_process.sessions, http, config, ReconcileReport())
    assert fetch_attempts(engine, lost_a)[0].cost_usd == Decimal("0.2")


def test_without_a_management_key_the_activity_check_says_why_it_did_not_run(
    worker_process, openrouter_mock
):
    report = ReconcileReport()
    with _http(openrouter_mock) as http:
        check_activity(worker_process.sessions, http, _reconciler(), report)
    assert report.skipped is not None
    assert "OPENROUTER_MANAGEMENT_KEY" in report.skipped


def test_a_streamed_calls_generation_id_is_kept_while_it_streams(
    worker_process, openrouter_mock, make_job, engine
):
    # The first chunk carries the id; the call then stalls until released.
    release = asyncio.Event()
    seen = {}

    class Stalling(httpx.AsyncByteStream):
        async def __aiter__(self):
            first = {
                **STREAM_HEAD,
                "choices": [{"index": 0, "delta": {"content": "Hi"}}],
            }
            yield b"data: " + json.dumps(first).encode() + b"\n\n"
            await release.wait()
            yield b"data: [DONE]\n\n"

    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, stream=Stalling()
        )
    )
    job_id = make_job(request=json.dumps(make_job_body(stream=True)))

    async def run():
        task = asyncio.create_task(worker_process.completions.run(job_id))
        for _ in range(500):
            (row,) = fetch_attempts(engine, job_id) or [None]
            if row is not None and row.generation_id is not None:
                seen["row"] = row
                break
            await asyncio.sleep(0.01)
        release.set()
        return await task

    worker_process.loop.run(run())

    assert seen["row"].outcome == "started"  # the call still going on
    assert seen["row"].generation_id == STREAM_HEAD["id"]
    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.generation_id == STREAM_HEAD["id"]


def test_a_stream_that_breaks_keeps_its_generation_id_and_its_estimate(
    worker_process, openrouter_mock, make_job, engine
):
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            first = {
                **STREAM_HEAD,
                "choices": [{"index": 0, "delta": {"content": "Hi"}}],
            }
            yield b"data: " + json.dumps(first).encode() + b"\n\n"
            for _ in range(500):  # the id is on the row before the call fails
                (row,) = fetch_attempts(engine, job_id)
                if row.generation_id is not None:
                    break
                await asyncio.sleep(0.01)
            # then no [DONE]: the call breaks

    openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(
            200, headers={"Content-Type": "text/event-stream"}, stream=Broken()
        )
    )
    job_id = make_job(request=json.dumps(make_job_body(stream=True)))

    worker_process.loop.run(worker_process.completions.run(job_id))

    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.outcome in ("retryable", "permanent")
    assert attempt.generation_id == STREAM_HEAD["id"]  # for the reconciler
    assert attempt.cost_source in (CostSource.ESTIMATED, CostSource.UNKNOWN)
    assert attempt.cost_note


def _give_own_key(engine, tenant, *, sealed_with: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        box = SecretBox(sealed_with)
        set_openrouter_key(row, TENANT_KEY, box=box, now=datetime.now(UTC))


@pytest.mark.parametrize("sealed_with", [SEALING, "a key the workers were never given"])
def test_a_tenants_own_key_looks_up_the_generations_its_calls_made(
    worker_process,
    worker_settings,
    openrouter_mock,
    make_job,
    engine,
    priced_model,
    tenant,
    sealed_with,
):
    """Its account paid: the global key's account does not know its generations.
    A key the workers cannot open is not looked up: the estimate stays."""
    job_id = _answered_without_cost(
        worker_process, openrouter_mock, make_job, priced_model
    )
    _give_own_key(engine, tenant, sealed_with=sealed_with)
    lookups = openrouter_mock.get("/generation").mock(
        return_value=_generation(total_cost=0.0000201, provider_name="OpenAI")
    )
    settings = worker_settings.model_copy(
        update={"helixq_secret_key": SecretStr(SEALING)}
    )
    keys = tenants_keys(settings, worker_process.sessions)
    with _http(openrouter_mock) as http:
        report = reconcile_costs(worker_process.sessions, http, _reconciler(), keys)

    (attempt,) = fetch_attempts(engine, job_id)
    if sealed_with == SEALING:
        assert report.reconciled == 1
        auth = lookups.calls[0].request.headers["authorization"]
        assert auth == f"Bearer {TENANT_KEY}"
        assert attempt.cost_source == CostSource.RECONCILED
    else:
        assert (report.reconciled, lookups.call_count) == (0, 0)
        assert attempt.cost_source == CostSource.ESTIMATED
