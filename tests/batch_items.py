"""A batch's items ended straight in Postgres, as a worker would have ended them,
and the batch read back: for tests of how a batch ends and the files it gets."""

import json
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

REPLY = {"id": "gen-1", "choices": [{"message": {"content": "hi"}}]}


def end_item(engine: Engine, job_id: UUID, status: str, **columns: Any) -> None:
    """End the item with `status` now, setting the other `columns` as given."""
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    with engine.begin() as connection:
        connection.execute(
            text(
                f"UPDATE jobs SET status = :status, finished_at = now()"
                f"{', ' + sets if sets else ''} WHERE id = :id"
            ),
            {"id": job_id, "status": status, **columns},
        )


def succeed_item(engine: Engine, job_id: UUID) -> None:
    """End the item as succeeded, answered with REPLY."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE jobs SET status = 'succeeded', finished_at = now(),"
                " result = CAST(:result AS jsonb) WHERE id = :id"
            ),
            {"id": job_id, "result": json.dumps(REPLY)},
        )


def fetch_batch(engine: Engine, batch_id: UUID) -> Any:
    """The batch row as it is now."""
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM batches WHERE id = :id"), {"id": batch_id}
        ).one()


def succeeded_line(job_id: UUID, custom_id: str) -> dict[str, Any]:
    """The output file's line of an item that succeeded with REPLY."""
    return {
        "id": f"batch_req_{job_id.hex}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": str(job_id), "body": REPLY},
        "error": None,
    }
