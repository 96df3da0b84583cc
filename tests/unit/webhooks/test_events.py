import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.db.models import Batch, Job
from shared.webhooks.events import (
    EventType,
    batch_data,
    batch_event_type,
    event_payload,
    job_data,
    job_event_type,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def make_job(**overrides: object) -> Job:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "status": "succeeded",
        "request": {"messages": [{"role": "user", "content": "secret prompt"}]},
        "result": {"choices": [{"message": {"content": "secret answer"}}]},
        "custom_id": "row-1",
        "model": "openai/gpt-4o-mini",
        "cost_usd": Decimal("0.000012500000"),
        "finished_at": NOW,
        "webhook_url": "https://hooks.example.com/?token=abc",
    }
    fields.update(overrides)
    return Job(**fields)


def test_job_payload_has_the_documented_shape() -> None:
    job = make_job()
    payload = event_payload(EventType.JOB_SUCCEEDED, job_data(job), now=NOW)
    assert payload["type"] == "job.succeeded"
    assert payload["timestamp"] == "2026-11-24T12:00:00+00:00"
    assert payload["data"] == {
        "id": str(job.id),
        "object": "job",
        "status": "succeeded",
        "custom_id": "row-1",
        "model": "openai/gpt-4o-mini",
        "cost_usd": "0.000012500000",
        "error": None,
        "batch_id": None,
        "finished_at": "2026-11-24T12:00:00+00:00",
    }
    json.dumps(payload)  # serialisable as is


def test_job_payload_carries_no_prompt_answer_or_url() -> None:
    text = json.dumps(job_data(make_job()))
    for secret in ("secret prompt", "secret answer", "token=abc"):
        assert secret not in text


def test_failed_job_payload_carries_the_error() -> None:
    batch_id = uuid.uuid4()
    job = make_job(
        status="failed",
        error_code="upstream_rejected",
        error_message="400 from provider",
        cost_usd=None,
        batch_id=batch_id,
    )
    data = job_data(job)
    assert data["error"] == {
        "code": "upstream_rejected",
        "message": "400 from provider",
    }
    assert data["cost_usd"] is None
    assert data["batch_id"] == str(batch_id)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("succeeded", EventType.JOB_SUCCEEDED),
        ("failed", EventType.JOB_FAILED),
        ("cancelled", None),
        ("queued", None),
    ],
)
def test_job_event_type(status: str, event: EventType | None) -> None:
    assert job_event_type(status) == event


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("completed", EventType.BATCH_COMPLETED),
        ("failed", EventType.BATCH_FAILED),
        ("cancelled", EventType.BATCH_CANCELLED),
        ("expired", EventType.BATCH_EXPIRED),
        ("in_progress", None),
    ],
)
def test_batch_event_type(status: str, event: EventType | None) -> None:
    assert batch_event_type(status) == event


def test_batch_payload_has_counts_and_end_time() -> None:
    batch = Batch(
        id=uuid.uuid4(),
        status="completed",
        total=3,
        request_counts={"total": 3, "completed": 2, "failed": 1},
        created_at=NOW,
        completed_at=NOW,
        webhook_url="https://hooks.example.com/?token=abc",
    )
    data = batch_data(batch)
    assert data["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert data["ended_at"] == "2026-11-24T12:00:00+00:00"
    assert "token" not in json.dumps(data)
