"""The expired-files sweep deletes files past their expiry with their content, and
nothing else."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from workers.maintenance.expired_files import delete_expired_files

pytestmark = pytest.mark.timeout(30)


def _add_file(engine, tenant_id, expires_at: datetime | None) -> uuid.UUID:
    file_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO files (id, tenant_id, purpose, filename, size_bytes,"
                " expires_at) VALUES (:id, :tenant, 'batch', 'f.jsonl', 3, :expires)"
            ),
            {"id": file_id, "tenant": tenant_id, "expires": expires_at},
        )
        connection.execute(
            text("INSERT INTO file_chunks (file_id, seq, data) VALUES (:id, 0, 'abc')"),
            {"id": file_id},
        )
    return file_id


def _exists(engine, file_id) -> tuple[bool, bool]:
    with engine.connect() as connection:
        files = connection.execute(
            text("SELECT count(*) FROM files WHERE id = :id"), {"id": file_id}
        ).scalar_one()
        chunks = connection.execute(
            text("SELECT count(*) FROM file_chunks WHERE file_id = :id"),
            {"id": file_id},
        ).scalar_one()
    return bool(files), bool(chunks)


def test_expired_files_and_their_content_are_deleted(worker_process, engine, tenant):
    now = datetime.now(UTC)
    expired = [
        _add_file(engine, tenant["id"], now - timedelta(seconds=s)) for s in (1, 2, 3)
    ]
    live = _add_file(engine, tenant["id"], now + timedelta(hours=1))
    forever = _add_file(engine, tenant["id"], None)

    assert delete_expired_files(worker_process.sessions, page=2) >= 3

    assert [_exists(engine, file_id) for file_id in expired] == [(False, False)] * 3
    assert _exists(engine, live) == (True, True)
    assert _exists(engine, forever) == (True, True)
