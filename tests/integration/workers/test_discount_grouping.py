"""Discount-lane lines are routed by the tenant's strategy at batch prices before
they are grouped, reserve the tenant's budget at batch prices, and wait while
their tenant is at its cap of upstream batches in flight."""

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
import respx
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session

from shared import budget
from shared.db.models import CatalogModel
from shared.db.upstream_batches import UpstreamBatch
from shared.redis_keys import tenant_budget
from shared.routing.catalog import ModelInfo
from tests.factories import make_job_body, unique_name
from tests.integration.workers.conftest import BATCH_API_URL, ListSender, fetch_job
from workers.maintenance.catalog_sync import upsert_catalog
from workers.maintenance.discount_lane import (
    DiscountConfig,
    DiscountDeps,
    InFlightCaps,
)
from workers.maintenance.discount_submission import submit_discount_lines
from workers.openrouter.batches import BatchApi


@pytest.fixture
def accepting_api(batch_api: respx.MockRouter) -> respx.MockRouter:
    """The Batch API accepting every batch."""

    def accept(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            202,
            json={
                "id": f"batch-{uuid.uuid4().hex}",
                "object": "batch",
                "model": body["model"],
                "status": "validating",
                "request_counts": {"total": len(body["requests"])},
            },
        )

    batch_api.post("/batches").mock(side_effect=accept)
    return batch_api


def _model(model_id: str, prompt: str, completion: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        context_length=128_000,
        max_completion_tokens=4096,
        prompt_price=Decimal(prompt),
        completion_price=Decimal(completion),
        pricing={"prompt": prompt, "completion": completion},
    )


@pytest.fixture
def batch_catalog(engine: Engine) -> Iterator[tuple[str, str]]:
    """Two models: `listed_cheap` is the cheaper at list price, `batch_cheap` at
    batch prices."""
    author = unique_name("lane")
    listed_cheap, batch_cheap = f"{author}/listed-cheap", f"{author}/batch-cheap"
    models = [
        _model(listed_cheap, "0.000001", "0.000002"),
        _model(f"{listed_cheap}:batch", "0.0000009", "0.0000018"),
        _model(batch_cheap, "0.0000012", "0.0000024"),
        _model(f"{batch_cheap}:batch", "0.0000004", "0.0000008"),
    ]
    with Session(engine) as session, session.begin():
        upsert_catalog(session, models, now=datetime.now(UTC), unlist_missing=False)
    yield listed_cheap, batch_cheap
    with Session(engine) as session, session.begin():
        ids = [m.id for m in models]
        session.execute(delete(CatalogModel).where(CatalogModel.id.in_(ids)))


def _set_tenant(engine: Engine, tenant_id: uuid.UUID, **columns: Any) -> None:
    sets = ", ".join(
        f"{name} = CAST(:{name} AS jsonb)"
        if name in ("model_pool", "limits")
        else f"{name} = :{name}"
        for name in columns
    )
    values = {
        k: json.dumps(v) if k in ("model_pool", "limits") else v
        for k, v in columns.items()
    }
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE tenants SET {sets} WHERE id = :id"),
            {**values, "id": tenant_id},
        )


@pytest.fixture
def waiting_lines(make_batch, make_job) -> Callable[..., tuple[uuid.UUID, list]]:
    def create(count: int, **body: Any) -> tuple[uuid.UUID, list[uuid.UUID]]:
        expires = datetime.now(UTC) + timedelta(days=1)
        batch_id = make_batch(total=count, expires_at=expires, lane="auto")
        request = json.dumps(make_job_body(**body))
        jobs = [
            make_job(batch_id=batch_id, lane="discount", request=request)
            for _ in range(count)
        ]
        return batch_id, jobs

    return create


def _deps(worker_process, router, **config: Any) -> DiscountDeps:
    client = httpx.Client(transport=httpx.MockTransport(router.handler))
    settings: dict[str, Any] = {
        "max_requests": 5000,
        "max_bytes": 200_000_000,
        "reconcile_after_s": 30,
    }
    return DiscountDeps(
        worker_process.sessions,
        BatchApi(client, BATCH_API_URL),
        ListSender(),
        DiscountConfig(**{**settings, **config}),
        worker_process.redis,
    )


def _rows(engine: Engine, batch_id: uuid.UUID) -> list[UpstreamBatch]:
    with Session(engine) as session:
        query = select(UpstreamBatch).where(UpstreamBatch.batch_id == batch_id)
        return list(session.scalars(query))


def _route_over_both(engine: Engine, tenant, models: tuple[str, str], strategy: str):
    """The tenant routes lines that name no model over both models by `strategy`."""
    pool = [{"model": model, "weight": 1} for model in models]
    _set_tenant(
        engine,
        tenant["id"],
        route_strategy=strategy,
        model_pool=pool,
        default_model=None,
    )


def test_cost_optimized_picks_the_model_cheapest_at_batch_prices(
    worker_process, accepting_api, engine, tenant, batch_catalog, waiting_lines
):
    batch_cheap = batch_catalog[1]
    _route_over_both(engine, tenant, batch_catalog, "cost_optimized")
    batch_id, jobs = waiting_lines(2, model=None)

    submit_discount_lines(_deps(worker_process, accepting_api))

    [row] = _rows(engine, batch_id)
    assert (row.model, row.request_count) == (batch_cheap, 2)
    routing = fetch_job(engine, jobs[0]).routing
    assert routing["strategy"] == "cost_optimized"
    assert routing["candidates"][0] == batch_cheap


def test_round_robin_splits_a_batch_over_the_pool_then_groups_per_model(
    worker_process, accepting_api, engine, tenant, batch_catalog, waiting_lines
):
    listed_cheap, batch_cheap = batch_catalog
    _route_over_both(engine, tenant, batch_catalog, "round_robin")
    batch_id, _ = waiting_lines(4, model=None)

    submit_discount_lines(_deps(worker_process, accepting_api))

    counts = sorted((r.model, r.request_count) for r in _rows(engine, batch_id))
    assert counts == [(batch_cheap, 2), (listed_cheap, 2)]


def _ledger(worker_process, slug: str) -> dict[str, int]:
    client: redis.Redis = worker_process.redis
    month = budget.month_of(datetime.now(UTC))
    raw = client.hgetall(tenant_budget(slug, month))
    return {k.decode(): int(v) for k, v in raw.items() if k != b"seeded"}


def test_lines_reserve_the_budget_at_batch_prices_and_those_past_it_fail(
    worker_process, accepting_api, engine, tenant, batch_catalog, waiting_lines
):
    _, batch_cheap = batch_catalog
    messages = [{"role": "user", "content": "x" * 400}]
    body = {"model": batch_cheap, "messages": messages, "max_tokens": 1000}
    # One line costs ~0.0008 at batch prices (1000 completion tokens at 8e-7):
    # a budget of 0.002 takes two of three, where list prices would take none.
    _set_tenant(engine, tenant["id"], limits={"monthly_budget_usd": "0.002"})
    batch_id, jobs = waiting_lines(3, **body)

    submit_discount_lines(_deps(worker_process, accepting_api))

    [row] = _rows(engine, batch_id)
    assert row.request_count == 2
    assert row.reserved_usd is not None
    assert row.reserved_usd > 0
    assert _ledger(worker_process, tenant["slug"])["reserved"] == budget.to_nano(
        row.reserved_usd
    )
    statuses = sorted(fetch_job(engine, job).status for job in jobs)
    assert statuses == ["failed", "queued", "queued"]
    [failed] = [j for j in jobs if fetch_job(engine, j).status == "failed"]
    assert fetch_job(engine, failed).error_code == "budget_exceeded"


def test_a_tenant_at_its_cap_of_upstream_batches_waits(
    worker_process, accepting_api, engine, waiting_lines
):
    model = f"cap-{uuid.uuid4().hex[:6]}/m"
    batches = [waiting_lines(1, model=model)[0] for _ in range(2)]
    deps = _deps(worker_process, accepting_api, caps=InFlightCaps(tenant_batches=1))

    submit_discount_lines(deps)

    sent = [b for b in batches if _rows(engine, b)]
    assert len(sent) == 1
    with engine.begin() as connection:  # its results are stored: no longer in flight
        connection.execute(
            text(
                "UPDATE upstream_batches SET results_stored_at = now() "
                "WHERE batch_id = :id"
            ),
            {"id": sent[0]},
        )

    submit_discount_lines(deps)

    assert all(len(_rows(engine, b)) == 1 for b in batches)
