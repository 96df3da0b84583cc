"""A batch that ends gets OpenAI's output and error files: a line per item, in
OpenAI's batch line format, readable like any file of the tenant."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from workers.maintenance import batches

pytestmark = pytest.mark.timeout(30)

LATER = timedelta(hours=1)
REPLY = {"id": "gen-1", "choices": [{"message": {"content": "hi"}}]}


def _now() -> datetime:
    return datetime.now(UTC)


def _end(engine, job_id, status: str, **columns) -> None:
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    with engine.begin() as connection:
        connection.execute(
            text(
                f"UPDATE jobs SET status = :status, finished_at = now()"
                f"{', ' + sets if sets else ''} WHERE id = :id"
            ),
            {"id": job_id, "status": status, **columns},
        )


def _succeed(engine, job_id) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE jobs SET status = 'succeeded', finished_at = now(),"
                " result = CAST(:result AS jsonb) WHERE id = :id"
            ),
            {"id": job_id, "result": json.dumps(REPLY)},
        )


def _batch(engine, batch_id):
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM batches WHERE id = :id"), {"id": batch_id}
        ).one()


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
    _succeed(engine, ok)
    _end(
        engine,
        bad,
        "failed",
        error_code="upstream_bad_request",
        error_message="the model refused",
    )
    _end(engine, late, "expired")

    assert batches.finish_batches(worker_process.sessions, deliveries) == 1

    batch = _batch(engine, batch_id)
    assert batch.status == "completed"
    output, lines = _file(engine, batch.output_file_id)
    assert (output.purpose, output.tenant_id) == ("batch_output", batch.tenant_id)
    assert output.filename == f"batch_{batch_id.hex}_output.jsonl"
    assert output.expires_at is not None
    assert lines == [
        {
            "id": f"batch_req_{ok.hex}",
            "custom_id": "ok",
            "response": {"status_code": 200, "request_id": str(ok), "body": REPLY},
            "error": None,
        }
    ]
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
    _succeed(engine, done)

    assert batches.finish_batches(worker_process.sessions, deliveries) == 1

    batch = _batch(engine, batch_id)
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
    _succeed(engine, make_job(batch_id=batch_id, custom_id="only"))
    batches.finish_batches(worker_process.sessions, deliveries)
    batch = _batch(engine, batch_id)
    assert batch.output_file_id is not None
    assert batch.error_file_id is None
