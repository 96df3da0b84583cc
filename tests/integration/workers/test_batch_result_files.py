"""A batch that ends gets OpenAI's output and error files: a line per item, in
OpenAI's batch line format, readable like any file of the tenant."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.batch_items import (
    end_item,
    fetch_batch,
    succeed_item,
    succeeded_line,
)
from workers.maintenance import batches

pytestmark = pytest.mark.timeout(30)

LATER = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


def _file(engine, file_id: uuid.UUID):
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM files WHERE id = :id"), {"id": file_id}
        ).one()
        data = connection.execute(
            text("SELECT data FROM file_chunks WHERE file_id = :id ORDER BY seq"),
            {"id": file_id},
        ).scalars()
        content = b"".join(bytes(chunk) for chunk in data)
    assert row.size_bytes == len(content)
    return row, [json.loads(line) for line in content.decode().splitlines()]


def test_ended_batch_gets_an_output_file_and_an_error_file(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(total=3, expires_at=_now() + LATER)
    ok = make_job(batch_id=batch_id, custom_id="ok")
    bad = make_job(batch_id=batch_id, custom_id="bad")
    late = make_job(batch_id=batch_id, custom_id="late")
    succeed_item(engine, ok)
    end_item(
        engine,
        bad,
        "failed",
        error_code="upstream_bad_request",
        error_message="the model refused",
    )
    end_item(engine, late, "expired")

    assert batches.finish_batches(worker_process.sessions, deliveries) == 1

    batch = fetch_batch(engine, batch_id)
    assert batch.status == "completed"
    output, lines = _file(engine, batch.output_file_id)
    assert (output.purpose, output.tenant_id) == ("batch_output", batch.tenant_id)
    assert output.filename == f"batch_{batch_id.hex}_output.jsonl"
    assert output.expires_at is not None
    assert lines == [succeeded_line(ok, "ok")]
    _, errors = _file(engine, batch.error_file_id)
    by_id = {line["custom_id"]: line for line in errors}
    assert set(by_id) == {"bad", "late"}
    assert by_id["bad"]["response"] is None
    assert by_id["bad"]["error"] == {
        "code": "upstream_bad_request",
        "message": "the model refused",
    }
    assert by_id["late"]["error"]["code"] == "batch_expired"


def test_cancelled_batch_keeps_partial_results_in_its_files(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(
        total=2, expires_at=_now() + LATER, status="cancelling", cancelling_at=_now()
    )
    done = make_job(batch_id=batch_id, custom_id="done")
    make_job(batch_id=batch_id, custom_id="dropped", status="cancelled")
    succeed_item(engine, done)

    assert batches.finish_batches(worker_process.sessions, deliveries) == 1

    batch = fetch_batch(engine, batch_id)
    assert batch.status == "cancelled"
    _, lines = _file(engine, batch.output_file_id)
    assert [line["custom_id"] for line in lines] == ["done"]
    _, errors = _file(engine, batch.error_file_id)
    assert [(e["custom_id"], e["error"]["code"]) for e in errors] == [
        ("dropped", "batch_cancelled")
    ]


def test_a_batch_with_no_failure_has_no_error_file(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(total=1, expires_at=_now() + LATER)
    succeed_item(engine, make_job(batch_id=batch_id, custom_id="only"))
    batches.finish_batches(worker_process.sessions, deliveries)
    batch = fetch_batch(engine, batch_id)
    assert batch.output_file_id is not None
    assert batch.error_file_id is None
