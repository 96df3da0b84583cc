"""Batches in OpenAI's shape: made from an uploaded file, validated before anything
is queued, listed and cancelled as OpenAI's clients expect."""

import json
import uuid

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from shared.db.models import Job
from tests.factories import make_messages
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio

CHAT = "/v1/chat/completions"


def line(custom_id: str, url: str = CHAT, **body: object) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": url,
        "body": {"model": "openai/gpt-4o-mini", "messages": make_messages(), **body},
    }


async def upload_lines(
    api: httpx.AsyncClient, tenant: TenantCredentials, lines: list[object] | bytes
) -> str:
    content = (
        lines
        if isinstance(lines, bytes)
        else "".join(json.dumps(item) + "\n" for item in lines).encode()
    )
    response = await api.post(
        "/v1/files",
        data={"purpose": "batch"},
        files={"file": ("input.jsonl", content)},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def create_from_file(
    api: httpx.AsyncClient, tenant: TenantCredentials, file_id: str, **extra: object
) -> httpx.Response:
    body = {
        "input_file_id": file_id,
        "endpoint": CHAT,
        "completion_window": "24h",
        **extra,
    }
    return await api.post("/v1/batches", json=body, headers=tenant.headers)


async def test_batch_from_a_file_queues_its_lines_in_openai_shape(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    file_id = await upload_lines(api, tenant, [line(f"row-{n}") for n in range(3)])
    response = await create_from_file(api, tenant, file_id, metadata={"run": "a"})
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["object"] == "batch"
    assert batch["endpoint"] == CHAT
    assert batch["input_file_id"] == file_id
    assert batch["status"] == "in_progress"
    assert batch["errors"] is None
    assert (batch["output_file_id"], batch["error_file_id"]) == (None, None)
    assert batch["metadata"] == {"run": "a"}
    counts = batch["request_counts"]
    assert (counts["total"], counts["completed"], counts["failed"]) == (3, 0, 0)
    assert isinstance(batch["created_at"], int)
    assert batch["expires_at"] - batch["created_at"] == 86400
    assert batch["in_progress_at"] == batch["created_at"]
    assert batch["cancelling_at"] is None
    assert len(enqueuer.sent) == 3
    again = await api.get(f"/v1/batches/{batch['id']}", headers=tenant.headers)
    assert again.json()["input_file_id"] == file_id


async def test_a_file_with_bad_lines_fails_the_batch_naming_each_line(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine: Engine
) -> None:
    lines = [
        line("ok"),
        line("hot", temperature=9),
        line("elsewhere", url="/v1/embeddings"),
        line("ok-too"),
    ]
    file_id = await upload_lines(api, tenant, lines)
    response = await create_from_file(api, tenant, file_id)
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["status"] == "failed"
    assert isinstance(batch["failed_at"], int)
    assert batch["in_progress_at"] is None
    assert batch["errors"]["object"] == "list"
    assert [e["line"] for e in batch["errors"]["data"]] == [2, 3]
    assert "temperature" in batch["errors"]["data"][0]["message"]
    assert CHAT in batch["errors"]["data"][1]["message"]
    assert batch["request_counts"]["total"] == 0
    assert enqueuer.sent == []
    with Session(engine) as session:
        jobs = session.scalars(
            select(Job.id).where(Job.batch_id == uuid.UUID(batch["id"]))
        ).all()
    assert jobs == []


async def test_an_empty_file_fails_the_batch(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    file_id = await upload_lines(api, tenant, b"\n\n")
    batch = (await create_from_file(api, tenant, file_id)).json()
    assert batch["status"] == "failed"
    assert batch["errors"]["data"][0]["code"] == "empty_file"
    assert enqueuer.sent == []


async def test_another_tenants_file_is_no_input(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    file_id = await upload_lines(api, tenant, [line("a")])
    for given in (file_id, f"file-{uuid.uuid4().hex}", "nonsense"):
        response = await create_from_file(api, other_tenant, given)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["details"] == {"field": "input_file_id"}
        assert given in error["message"]


async def test_an_endpoint_other_than_chat_is_refused(
    api, tenant: TenantCredentials
) -> None:
    file_id = await upload_lines(api, tenant, [line("a")])
    response = await create_from_file(api, tenant, file_id, endpoint="/v1/responses")
    assert response.status_code == 422, response.text
    assert "endpoint" in response.json()["error"]["message"]


async def test_inline_batches_carry_the_openai_fields_too(
    api, tenant: TenantCredentials
) -> None:
    body = {"requests": [{"custom_id": "a", "body": line("a")["body"]}]}
    batch = (await api.post("/v1/batches", json=body, headers=tenant.headers)).json()
    assert batch["endpoint"] == CHAT
    assert batch["input_file_id"] is None
    assert batch["request_counts"]["completed"] == 0
    assert isinstance(batch["created_at"], int)


async def test_cancel_passes_through_cancelling_while_items_run(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    file_id = await upload_lines(api, tenant, [line("a"), line("b")])
    batch_id = (await create_from_file(api, tenant, file_id)).json()["id"]
    with Session(engine) as session, session.begin():
        one = session.scalar(
            select(Job.id).where(Job.batch_id == uuid.UUID(batch_id)).limit(1)
        )
        session.execute(update(Job).where(Job.id == one).values(status="running"))
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert response.status_code == 200, response.text
    batch = response.json()
    assert batch["status"] == "cancelling"
    assert isinstance(batch["cancelling_at"], int)
    assert batch["cancelled_at"] is None
    again = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    assert again.status_code == 409


async def test_cancel_with_nothing_running_is_cancelled_at_once(
    api, tenant: TenantCredentials
) -> None:
    file_id = await upload_lines(api, tenant, [line("a"), line("b")])
    batch_id = (await create_from_file(api, tenant, file_id)).json()["id"]
    response = await api.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
    batch = response.json()
    assert batch["status"] == "cancelled"
    assert batch["cancelling_at"] == batch["cancelled_at"]
    assert batch["request_counts"]["cancelled"] == 2
    assert batch["output_file_id"] is None  # nothing ran, nothing to output
    errors = await api.get(
        f"/v1/files/{batch['error_file_id']}/content", headers=tenant.headers
    )
    lines = [json.loads(text) for text in errors.text.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["a", "b"]
    assert {line["error"]["code"] for line in lines} == {"batch_cancelled"}
    listed = await api.get("/v1/files?purpose=batch_output", headers=tenant.headers)
    assert [f["id"] for f in listed.json()["data"]] == [batch["error_file_id"]]


EMBEDDINGS = "/v1/embeddings"


def embedding_line(custom_id: str, url: str = EMBEDDINGS) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": url,
        "body": {"model": "openai/text-embedding-3-small", "input": [custom_id]},
    }


@pytest.mark.parametrize("lane", ["realtime", "auto"])
async def test_a_file_of_embedding_lines_queues_embeddings_jobs_on_the_realtime_lane(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine: Engine, lane
) -> None:
    lines = [embedding_line("e-1"), embedding_line("e-2", url="/api/v1/embeddings")]
    file_id = await upload_lines(api, tenant, lines)
    response = await create_from_file(
        api, tenant, file_id, endpoint=EMBEDDINGS, lane=lane
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["status"], batch["endpoint"]) == ("in_progress", EMBEDDINGS)
    assert batch["request_counts"]["total"] == 2
    assert len(enqueuer.sent) == 2
    with Session(engine) as session:
        jobs = session.execute(
            select(Job.custom_id, Job.request, Job.lane)
            .where(Job.batch_id == uuid.UUID(batch["id"]))
            .order_by(Job.custom_id)
        ).all()
    assert [tuple(job) for job in jobs] == [
        (
            "e-1",
            {"model": "openai/text-embedding-3-small", "input": ["e-1"]},
            "realtime",
        ),
        (
            "e-2",
            {"model": "openai/text-embedding-3-small", "input": ["e-2"]},
            "realtime",
        ),
    ]


async def test_embedding_lines_cannot_ask_for_the_discount_lane(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    file_id = await upload_lines(api, tenant, [embedding_line("e-1")])
    response = await create_from_file(
        api, tenant, file_id, endpoint=EMBEDDINGS, lane="discount"
    )
    batch = response.json()
    assert batch["status"] == "failed"
    [error] = batch["errors"]["data"]
    assert (error["line"], error["code"]) == (1, "discount_lane_refused")
    assert "realtime lane only" in error["message"]
    assert enqueuer.sent == []


async def test_an_embeddings_batch_names_each_line_for_another_endpoint_or_shape(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    lines = [
        embedding_line("fine"),
        line("chat-line"),
        {**embedding_line("no-input"), "body": {"model": "a/b"}},
    ]
    file_id = await upload_lines(api, tenant, lines)
    batch = (await create_from_file(api, tenant, file_id, endpoint=EMBEDDINGS)).json()
    assert batch["status"] == "failed"
    errors = batch["errors"]["data"]
    assert [e["line"] for e in errors] == [2, 3]
    assert EMBEDDINGS in errors[0]["message"]
    assert "input" in errors[1]["message"]
    assert enqueuer.sent == []
