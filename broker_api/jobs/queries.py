"""SQL for jobs, scoped by tenant. Query functions never commit.

They run on the API's psycopg pool in autocommit (broker_api.db_pool): each
statement is one round trip and its own transaction.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

_INSERT_JOB = """
INSERT INTO jobs (id, tenant_id, status, request, route, custom_id, metadata,
    webhook_url, priority)
VALUES (%(id)s, %(tenant_id)s, %(status)s, %(request)s, %(route)s, %(custom_id)s,
    %(metadata)s, %(webhook_url)s, %(priority)s)
RETURNING created_at
"""
_JSONB_COLUMNS = ("request", "route", "metadata")
_JOB = "SELECT * FROM jobs WHERE id = %s AND tenant_id = %s"
_ATTEMPTS = "SELECT * FROM attempts WHERE job_id = %s ORDER BY number"


def jsonb_params(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the JSONB columns' values wrapped for psycopg."""
    return {
        name: Jsonb(value) if name in _JSONB_COLUMNS and value is not None else value
        for name, value in values.items()
    }


async def insert_job(
    connection: AsyncConnection[DictRow], values: dict[str, Any]
) -> datetime:
    """Insert one job row; its created_at. In autocommit it is committed on return,
    in a transaction with it."""
    cursor = await connection.execute(_INSERT_JOB, jsonb_params(values))
    row = await cursor.fetchone()
    assert row is not None  # RETURNING always answers a row
    created_at: datetime = row["created_at"]
    return created_at


async def find_job_row(
    connection: AsyncConnection[DictRow], tenant_id: UUID, job_id: UUID
) -> DictRow | None:
    """The job's row if it belongs to the tenant; another tenant's job is absent."""
    cursor = await connection.execute(_JOB, [job_id, tenant_id])
    return await cursor.fetchone()


async def list_attempt_rows(
    connection: AsyncConnection[DictRow], job_id: UUID
) -> list[DictRow]:
    cursor = await connection.execute(_ATTEMPTS, [job_id])
    return await cursor.fetchall()


# Rows of several submissions in one statement (and one commit): a column an array.
_INSERT_JOBS = """
INSERT INTO jobs (id, tenant_id, status, request, route, custom_id, metadata,
    webhook_url, priority)
SELECT * FROM unnest(%(id)s::uuid[], %(tenant_id)s::uuid[], %(status)s::text[],
    %(request)s::jsonb[], %(route)s::jsonb[], %(custom_id)s::text[],
    %(metadata)s::jsonb[], %(webhook_url)s::text[], %(priority)s::int[])
RETURNING id, created_at
"""
_COLUMNS = (
    "id",
    "tenant_id",
    "status",
    "request",
    "route",
    "custom_id",
    "metadata",
    "webhook_url",
    "priority",
)


async def insert_jobs(
    connection: AsyncConnection[DictRow], rows: Sequence[dict[str, Any]]
) -> dict[UUID, datetime]:
    """Insert job rows in one statement (in autocommit, one commit); each one's
    created_at by id. One bad row fails them all."""
    wrapped = [jsonb_params(row) for row in rows]
    columns = {name: [row[name] for row in wrapped] for name in _COLUMNS}
    cursor = await connection.execute(_INSERT_JOBS, columns)
    return {row["id"]: row["created_at"] for row in await cursor.fetchall()}
