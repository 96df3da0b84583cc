"""Lanes on POST /v1/batches: what auto chooses, discount's 422, lane in the views."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from shared.db.models import Batch, CatalogModel, Job
from shared.db.upstream_batches import UpstreamBatch
from shared.routing.catalog import ModelInfo
from tests.factories import make_messages, unique_name
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from workers.maintenance.catalog_sync import upsert_catalog

pytestmark = pytest.mark.anyio


def _model(model_id: str, price: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        context_length=128_000,
        max_completion_tokens=4_096,
        prompt_price=Decimal(price),
        completion_price=Decimal(price),
        pricing={"prompt": price, "completion": price},
    )


@pytest.fixture
def models(engine: Engine) -> Iterator[dict[str, str]]:
    """A model with a `:batch` endpoint and one without, committed, then removed."""
    author = unique_name("lanes")
    names = {"batchable": f"{author}/batchable", "realtime": f"{author}/realtime"}
    rows = [
        _model(names["batchable"], "0.000002"),
        _model(names["batchable"] + ":batch", "0.000001"),
        _model(names["realtime"], "0.000002"),
    ]
    with Session(engine) as session, session.begin():
        upsert_catalog(session, rows, now=datetime.now(UTC), unlist_missing=False)
    yield names
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CatalogModel).where(CatalogModel.id.in_([m.id for m in rows]))
        )


def line(custom_id: str, model: str, **body: object) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "body": {"model": model, "messages": make_messages(), **body},
    }


def lanes_of(engine: Engine, batch_id: str) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(
            select(Job.custom_id, Job.lane).where(Job.batch_id == batch_id)
        )
        return {str(row[0]): str(row[1]) for row in rows}


async def test_auto_sends_batchable_lines_to_the_discount_lane_unpublished(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    body = {
        "requests": [
            line("cheap", models["batchable"]),
            line("fast", models["realtime"]),
        ],
        "lane": "auto",
    }
    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["lane"] == "auto"
    assert lanes_of(engine, batch["id"]) == {"cheap": "discount", "fast": "realtime"}
    with Session(engine) as session:
        fast = session.scalar(select(Job.id).where(Job.custom_id == "fast"))
        cheap = session.scalar(select(Job.id).where(Job.custom_id == "cheap"))
    assert enqueuer.sent == [(fast, tenant.slug)]
    job = await api.get(f"/v1/jobs/{cheap}", headers=tenant.headers)
    assert job.json()["lane"] == "discount"


async def test_auto_runs_a_batch_with_a_short_window_realtime(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    body = {
        "requests": [line("a", models["batchable"])],
        "completion_window": "1h",
        "lane": "auto",
    }
    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 201, response.text
    assert lanes_of(engine, response.json()["id"]) == {"a": "realtime"}
    assert len(enqueuer.sent) == 1


async def test_discount_refuses_lines_it_cannot_run_with_their_numbers_and_reasons(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {
        "lane": "discount",
        "requests": [
            line("ok", models["batchable"]),
            line("no-endpoint", models["realtime"]),
            line(
                "data-uri",
                models["batchable"],
                messages=[{"role": "user", "content": [image]}],
            ),
        ],
    }
    with Session(engine) as session:
        before = session.scalar(select(func.count()).select_from(Batch))

    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "discount_lane_refused"
    assert "Nothing was queued" in error["message"]
    refused = [(e["line"], e["custom_id"]) for e in error["details"]["errors"]]
    assert refused == [(2, "no-endpoint"), (3, "data-uri")]
    reasons = [e["message"] for e in error["details"]["errors"]]
    assert "has no batch endpoint in the catalog" in reasons[0]
    assert "data-URI images" in reasons[1]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == before
    assert enqueuer.sent == []


async def test_realtime_keeps_every_line_realtime(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    body = {"lane": "realtime", "requests": [line("a", models["batchable"])]}
    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 201, response.text
    assert response.json()["lane"] == "realtime"
    assert lanes_of(engine, response.json()["id"]) == {"a": "realtime"}
    assert len(enqueuer.sent) == 1


async def test_jsonl_upload_takes_the_lane_as_a_query_parameter(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    upload = json.dumps(
        {"url": "/v1/chat/completions", **line("a", models["batchable"])}
    ).encode()
    response = await api.post(
        "/v1/batches?lane=discount",
        content=upload,
        headers={**tenant.headers, "Content-Type": "application/jsonl"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["lane"] == "discount"
    assert lanes_of(engine, response.json()["id"]) == {"a": "discount"}
    assert enqueuer.sent == []


async def test_an_unknown_lane_is_a_422_naming_the_field(
    api, tenant: TenantCredentials, models
) -> None:
    body = {"lane": "cheap", "requests": [line("a", models["batchable"])]}
    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 422
    assert "lane" in response.text


async def test_a_batch_that_asks_for_no_lane_takes_auto(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer, models
) -> None:
    body = {"requests": [line("a", models["batchable"]), line("b", models["realtime"])]}
    response = await api.post("/v1/batches", json=body, headers=tenant.headers)

    assert response.status_code == 201, response.text
    assert response.json()["lane"] == "auto"
    assert lanes_of(engine, response.json()["id"]) == {
        "a": "discount",
        "b": "realtime",
    }
    assert len(enqueuer.sent) == 1


async def test_the_batch_view_lists_its_upstream_batches(
    api, tenant: TenantCredentials, engine: Engine, models
) -> None:
    body = {"requests": [line("a", models["batchable"])], "lane": "discount"}
    created = (await api.post("/v1/batches", json=body, headers=tenant.headers)).json()
    with Session(engine) as session, session.begin():
        batch = session.get(Batch, UUID(created["id"]))
        assert batch is not None
        session.add(
            UpstreamBatch(
                batch_id=batch.id,
                tenant_id=batch.tenant_id,
                model=models["batchable"],
                upstream_id=f"batch-{uuid4().hex}",
                status="in_progress",
                request_count=1,
                body_bytes=100,
                error="upstream_payment_required: 402: Insufficient credits",
                payment_required_at=datetime.now(UTC),
            )
        )

    view = (
        await api.get(f"/v1/batches/{created['id']}", headers=tenant.headers)
    ).json()

    [upstream] = view["upstream_batches"]
    assert upstream["status"] == "in_progress"
    assert upstream["model"] == models["batchable"]
    assert upstream["request_count"] == 1
    assert upstream["payment_required"] is True
    assert upstream["id"].startswith("batch-")
