"""Tenants' own OpenRouter keys on the worker: each call goes out on its tenant's
key (the global one otherwise), a rotation needs no restart, and the upstream's
capacity (cool-downs after a 429) is kept per key."""

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from shared.db.models import Tenant
from shared.jobs import JobStatus
from shared.openrouter_key_store import set_openrouter_key, store_provisioned_key
from shared.sealing import SecretBox
from tests.factories import make_job_body
from tests.integration.limits.test_worker_limits import _run
from tests.integration.workers.conftest import fetch_job
from tests.unit.workers.payloads import completion_body, error_body
from workers.jobs.endings import OutcomeKind

pytestmark = pytest.mark.timeout(30)

SECRET = "the sealing key of the worker's integration tests"
SEALING = SecretStr(SECRET)
GLOBAL = "sk-or-v1-integration"
KEY_A = "sk-or-v1-" + "aaaa" * 16
KEY_B = "sk-or-v1-" + "bbbb" * 16


def _give_key(engine: Engine, tenant: dict[str, Any], key: str, secret: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        assert row is not None
        set_openrouter_key(row, key, box=SecretBox(secret), now=datetime.now(UTC))


def _job(engine: Engine, tenant: dict[str, Any]) -> uuid.UUID:
    job_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, status, request) VALUES "
                "(:id, :tenant, 'queued', CAST(:request AS jsonb))"
            ),
            {
                "id": job_id,
                "tenant": tenant["id"],
                "request": json.dumps(make_job_body()),
            },
        )
    return job_id


def _answer_by_key(
    seen: list[str], limited: frozenset[str] = frozenset()
) -> Callable[[httpx.Request], httpx.Response]:
    """Records each call's bearer key; keys in `limited` get a 429."""

    def answer(request: httpx.Request) -> httpx.Response:
        key = request.headers["Authorization"].removeprefix("Bearer ")
        seen.append(key)
        if key in limited:
            return httpx.Response(
                429, json=error_body(429, "slow down"), headers={"Retry-After": "30"}
            )
        return httpx.Response(200, json=completion_body())

    return answer


def test_each_tenant_calls_with_its_own_key_or_the_global_one(
    make_context, openrouter_mock, make_tenant, engine
) -> None:
    seen: list[str] = []
    openrouter_mock.post("/chat/completions").mock(side_effect=_answer_by_key(seen))
    first, second, third = make_tenant(), make_tenant(), make_tenant()
    _give_key(engine, first, KEY_A, SECRET)
    _give_key(engine, second, KEY_B, SECRET)
    ctx = make_context(helixq_secret_key=SEALING)

    for tenant in (first, second, third):
        assert _run(ctx, _job(engine, tenant)).kind is OutcomeKind.SUCCEEDED
    assert seen == [KEY_A, KEY_B, GLOBAL]


def test_a_rotated_key_is_used_without_a_restart(
    make_context, openrouter_mock, make_tenant, engine
) -> None:
    seen: list[str] = []
    openrouter_mock.post("/chat/completions").mock(side_effect=_answer_by_key(seen))
    tenant = make_tenant()
    _give_key(engine, tenant, KEY_A, SECRET)
    ctx = make_context(helixq_secret_key=SEALING, helixq_tenant_refresh_s=0.05)
    assert _run(ctx, _job(engine, tenant)).kind is OutcomeKind.SUCCEEDED
    _give_key(engine, tenant, KEY_B, SECRET)
    time.sleep(0.1)
    assert _run(ctx, _job(engine, tenant)).kind is OutcomeKind.SUCCEEDED
    assert seen == [KEY_A, KEY_B]


def test_a_429_on_one_key_cools_only_the_tenants_on_that_key(
    make_context, openrouter_mock, make_tenant, engine
) -> None:
    seen: list[str] = []
    openrouter_mock.post("/chat/completions").mock(
        side_effect=_answer_by_key(seen, limited=frozenset({KEY_A}))
    )
    stormed, sharing, other, on_global = (make_tenant() for _ in range(4))
    _give_key(engine, stormed, KEY_A, SECRET)
    _give_key(engine, sharing, KEY_A, SECRET)
    _give_key(engine, other, KEY_B, SECRET)
    ctx = make_context(helixq_secret_key=SEALING)

    assert _run(ctx, _job(engine, stormed)).kind is OutcomeKind.RETRY
    assert seen == [KEY_A]
    # A tenant sharing the key waits out the cool-down without calling ...
    waiting = _job(engine, sharing)
    assert _run(ctx, waiting).kind is OutcomeKind.NOT_CLAIMED
    assert fetch_job(engine, waiting).status == JobStatus.QUEUED
    # ... while the tenants on another key call at once.
    assert _run(ctx, _job(engine, other)).kind is OutcomeKind.SUCCEEDED
    assert _run(ctx, _job(engine, on_global)).kind is OutcomeKind.SUCCEEDED
    assert seen == [KEY_A, KEY_B, GLOBAL]


def test_a_key_no_secret_key_opens_fails_the_job_without_a_call(
    make_context, openrouter_mock, make_tenant, engine
) -> None:
    seen: list[str] = []
    openrouter_mock.post("/chat/completions").mock(side_effect=_answer_by_key(seen))
    tenant = make_tenant()
    _give_key(engine, tenant, KEY_A, "a sealing key this worker was never given")
    ctx = make_context(helixq_secret_key=SEALING)

    job_id = _job(engine, tenant)
    assert _run(ctx, job_id).kind is OutcomeKind.NOT_CLAIMED
    job = fetch_job(engine, job_id)
    assert (job.status, job.error_code) == ("failed", "upstream_key_unreadable")
    assert KEY_A not in (job.error_message or "")
    assert seen == []  # never sent on the global key instead


def _provisioned(engine: Engine, tenant: dict[str, Any], key: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        assert row is not None
        store_provisioned_key(
            row,
            key,
            key_hash="hash-of-the-provisioned-key",
            limit_usd=Decimal("0.01"),
            box=SecretBox(SECRET),
            now=datetime.now(UTC),
        )


def test_a_provisioned_key_at_its_limit_ends_the_job_budget_exceeded(
    make_context, openrouter_mock, make_tenant, engine
) -> None:
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(403, json=error_body(403, "Key limit exceeded"))
    )
    spent, operator_keyed = make_tenant(), make_tenant()
    _provisioned(engine, spent, KEY_A)
    _give_key(engine, operator_keyed, KEY_B, SECRET)
    ctx = make_context(helixq_secret_key=SEALING)

    job_id = _job(engine, spent)
    assert _run(ctx, job_id).kind is OutcomeKind.FAILED
    job = fetch_job(engine, job_id)
    assert (job.status, job.error_code) == ("failed", "budget_exceeded")
    assert route.call_count == 1  # no fallback: every candidate would be refused
    # The same 403 on a key an operator gave is the upstream's refusal, as before.
    other = _job(engine, operator_keyed)
    assert _run(ctx, other).kind is OutcomeKind.FAILED
    assert fetch_job(engine, other).error_code == "upstream_forbidden"
