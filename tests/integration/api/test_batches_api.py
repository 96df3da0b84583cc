"""Batches through the HTTP API: inline and JSONL ingest, status, cancel, results."""

import json
import uuid

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from broker_api.batches import service as batch_service
from shared.db.models import Batch, Job
from tests.factories import make_messages
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio


def inline_batch(count: int, **options: object) -> dict[str, object]:
    requests = [
        {
            "custom_id": f"row-{n}",
            "body": {"model": "openai/gpt-4o-mini", "messages": make_messages()},
        }
        for n in range(count)
    ]
    return {"requests": requests, **options}


def jsonl(lines: list[object]) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


def jsonl_line(custom_id: str, **body: object) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "openai/gpt-4o-mini", "messages": make_messages(), **body},
    }


def batches_of(engine: Engine, slug_key: str) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Batch)) or 0)


async def test_inline_batch_is_stored_and_published_at_batch_priority(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    response = await api.post(
        "/v1/batches",
        json=inline_batch(3, metadata={"run": "nightly"}),
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["status"] == "in_progress"
    assert batch["completion_window"] == "24h"
    assert batch["request_counts"] == {
        "total": 3,
        "completed": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "expired": 0,
        "pending": 3,
    }
    assert len(enqueuer.sent) == 3
    assert set(enqueuer.priorities) == {6}


async def test_jsonl_upload_reports_bad_lines_and_writes_nothing(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer
) -> None:
    before = batches_of(engine, tenant.slug)
    body = (
        jsonl([jsonl_line("a"), jsonl_line("b", temperature=9), jsonl_line("a")])
        + b"\n{not json\n"
    )
    response = await api.post(
        "/v1/batches",
        content=body,
        headers={**tenant.headers, "Content-Type": "application/jsonl"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"]["error_count"] == 3
    lines = {item["line"]: item for item in error["details"]["errors"]}
    assert set(lines) == {2, 3, 4}
    assert "temperature" in lines[2]["message"]
    assert "not unique" in lines[3]["message"]
    assert "not valid JSON" in lines[4]["message"]
    assert batches_of(engine, tenant.slug) == before
    assert enqueuer.sent == []


async def test_jsonl_upload_with_query_options(api, tenant: TenantCredentials) -> None:
    response = await api.post(
        "/v1/batches?completion_window=1h&strategy=cost_optimized",
        content=jsonl([jsonl_line(f"r{n}") for n in range(5)]),
        headers={**tenant.headers, "Content-Type": "application/jsonl"},
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["completion_window"] == "1h"
    assert batch["route"] == {"strategy": "cost_optimized"}
    assert batch["request_counts"]["total"] == 5


async def test_unsupported_content_type_is_415(api, tenant: TenantCredentials) -> None:
    response = await api.post(
        "/v1/batches",
        content=b"a,b",
        headers={**tenant.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_bad_completion_window_is_422(api, tenant: TenantCredentials) -> None:
    response = await api.post(
        "/v1/batches",
        json=inline_batch(1, completion_window="9 days"),
        headers=tenant.headers,
    )
    assert response.status_code == 422


async def test_another_tenants_batch_is_404(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    created = await api.post(
        "/v1/batches", json=inline_batch(1), headers=tenant.headers
    )
    batch_id = created.json()["id"]
    for path in (f"/v1/batches/{batch_id}", f"/v1/batches/{batch_id}/results"):
        response = await api.get(path, headers=other_tenant.headers)
        assert response.status_code == 404
    cancel = await api.post(
        f"/v1/batches/{batch_id}/cancel", headers=other_tenant.headers
    )
    assert cancel.status_code == 404


async def test_list_pages_newest_first(api, other_tenant: TenantCredentials) -> None:
    ids = []
    for _ in range(3):
        created = await api.post(
            "/v1/batches", json=inline_batch(1), headers=other_tenant.headers
        )
        ids.append(created.json()["id"])
    first = (await api.get("/v1/batches?limit=2", headers=other_tenant.headers)).json()
    assert [b["id"] for b in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = (
        await api.get(
            f"/v1/batches?limit=2&after={first['last_id']}",
            headers=other_tenant.headers,
        )
    ).json()
    assert [b["id"] for b in second["data"]] == [ids[0]]
    assert second["has_more"] is False


async def test_cancel_cancels_queued_items_and_is_cancelling_while_others_run(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    batch_id = (
        await api.post("/v1/batches", json=inline_batch(3), headers=tenant.headers)
    ).json()["id"]
    with Session(engine) as session, session.begin():
        one = session.scalar(
            select(Job.id).where(Job.batch_id == uuid.UUID(batch_id)).limit(1)
        )
        session.execute(update(Job).where(Job.id == one).values(status="running"))
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert response.status_code == 200
    batch = response.json()
    assert batch["status"] == "cancelling"
    assert batch["cancelling_at"] is not None
    assert batch["cancelled_at"] is None  # the sweep ends it once the item ends
    assert batch["request_counts"]["cancelled"] == 2
    assert batch["request_counts"]["pending"] == 1
    again = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "batch_not_cancellable"


@pytest.mark.parametrize(
    ("item_statuses", "ended_as"),
    [(("succeeded", "failed"), "completed"), (("failed", "failed"), "failed")],
)
async def test_cancel_after_every_item_ended_ends_the_batch_as_it_would_have(
    api,
    tenant: TenantCredentials,
    engine: Engine,
    item_statuses: tuple[str, ...],
    ended_as: str,
) -> None:
    batch_id = (
        await api.post(
            "/v1/batches", json=inline_batch(len(item_statuses)), headers=tenant.headers
        )
    ).json()["id"]
    with Session(engine) as session, session.begin():
        jobs = session.scalars(
            select(Job.id).where(Job.batch_id == uuid.UUID(batch_id))
        ).all()
        for job_id, status in zip(jobs, item_statuses, strict=True):
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=status, finished_at=func.now())
            )
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "batch_nothing_to_cancel"
    assert "nothing left to cancel" in error["message"]
    assert error["details"] == {"batch_id": batch_id, "status": ended_as}
    batch = (await api.get(f"/v1/batches/{batch_id}", headers=tenant.headers)).json()
    assert batch["status"] == ended_as
    assert batch["cancelled_at"] is None
    assert batch[f"{ended_as}_at"] is not None
    assert batch["request_counts"]["cancelled"] == 0
    assert batch["request_counts"]["pending"] == 0


async def test_results_stream_one_line_per_item(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    batch_id = (
        await api.post("/v1/batches", json=inline_batch(2), headers=tenant.headers)
    ).json()["id"]
    with Session(engine) as session, session.begin():
        done = session.scalar(
            select(Job.id).where(
                Job.batch_id == uuid.UUID(batch_id), Job.custom_id == "row-0"
            )
        )
        session.execute(
            update(Job)
            .where(Job.id == done)
            .values(
                status="succeeded",
                result={"choices": []},
                model="m",
                cost_usd="0.0001",
                latency_ms=420,
            )
        )
    response = await api.get(f"/v1/batches/{batch_id}/results", headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.text.splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert by_id["row-0"]["response"] == {"status_code": 200, "body": {"choices": []}}
    assert by_id["row-0"]["cost_usd"] == "0.000100000000"
    assert by_id["row-0"]["latency_ms"] == 420
    assert by_id["row-1"]["status"] == "queued"
    assert by_id["row-1"]["response"] is None


async def test_batch_idempotency_replays_the_same_batch(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": f"nightly-{uuid.uuid4()}"}
    body = inline_batch(2)
    first = await api.post("/v1/batches", json=body, headers=headers)
    second = await api.post("/v1/batches", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert len(enqueuer.sent) == 2


async def test_private_webhook_url_is_refused(api, tenant: TenantCredentials) -> None:
    response = await api.post(
        "/v1/batches",
        json=inline_batch(1, webhook_url="http://169.254.169.254/latest"),
        headers=tenant.headers,
    )
    assert response.status_code == 422


async def test_a_custom_id_repeated_chunks_apart_is_named_at_its_line(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    # The repeats are checked in Postgres as the rows are written, a chunk at a
    # time: a repeat far from its first use is found all the same.
    lines = [jsonl_line(f"r{n}") for n in range(1, 1501)]
    lines[1399] = jsonl_line("r3")  # line 1400
    lines[1499] = jsonl_line("r3")  # line 1500
    lines[1200] = jsonl_line("r1201", temperature=9)  # line 1201
    response = await api.post(
        "/v1/batches",
        content=jsonl(lines),
        headers={**tenant.headers, "Content-Type": "application/jsonl"},
    )
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert [(e["line"], e["custom_id"]) for e in errors] == [
        (1201, "r1201"),
        (1400, "r3"),
        (1500, "r3"),
    ]
    assert "not unique" in errors[1]["message"]
    assert enqueuer.sent == []


async def test_every_job_is_published_once_whatever_the_page_size(
    api,
    tenant: TenantCredentials,
    enqueuer: RecordingEnqueuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batch_service, "PUBLISH_PAGE", 2)
    response = await api.post(
        "/v1/batches",
        content=jsonl([jsonl_line(f"p{n}") for n in range(5)]),
        headers={**tenant.headers, "Content-Type": "application/jsonl"},
    )
    assert response.status_code == 201, response.text
    sent = [job_id for job_id, _ in enqueuer.sent]
    assert len(sent) == len(set(sent)) == 5
