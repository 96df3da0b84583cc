"""SQL for jobs, scoped by tenant. Query functions never commit.

They run on the API's psycopg pool in autocommit (broker_api.db_pool): each
statement is one round trip and its own transaction.
"""

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
) -> Any:
    """Insert one job row; its created_at. In autocommit it is committed on return,
    in a transaction with it."""
    cursor = await connection.execute(_INSERT_JOB, jsonb_params(values))
    row = await cursor.fetchone()
    assert row is not None  # RETURNING always answers a row
    return row["created_at"]


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
