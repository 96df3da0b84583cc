"""`Idempotency-Key`: the same key and body give the same answer, once, per tenant.

The key is reserved by an INSERT inside the use case's own transaction, so a
concurrent duplicate waits on the unique index until the first commits, then reads
its answer: exactly one job, whatever the timing.

The statements are written once, in psycopg's parameter style, and run either on
a psycopg connection (single jobs) or on a SQLAlchemy session's connection
(batches), through a `Run`.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import IdempotencyKeyReused

KEPT_FOR = timedelta(hours=24)

# A statement and its parameters → its first row, if any.
Run = Callable[[str, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]

_DELETE_EXPIRED = """
DELETE FROM idempotency_keys
WHERE tenant_id = %(tenant_id)s AND key = %(key)s AND expires_at <= now()
"""
_RESERVE = """
INSERT INTO idempotency_keys (tenant_id, key, request_hash, status_code, response,
    expires_at)
VALUES (%(tenant_id)s, %(key)s, %(hash)s, 0, '{}', now() + %(kept_for)s)
ON CONFLICT DO NOTHING
RETURNING key
"""
_STORED = """
SELECT request_hash, status_code, response FROM idempotency_keys
WHERE tenant_id = %(tenant_id)s AND key = %(key)s
"""
_REMEMBER = """
UPDATE idempotency_keys SET status_code = %(status_code)s, response = %(response)s
WHERE tenant_id = %(tenant_id)s AND key = %(key)s
"""


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: object) -> str:
    """A stable hash of a request body (key order does not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def on_connection(connection: AsyncConnection[DictRow]) -> Run:
    async def run(sql: str, params: dict[str, Any]) -> Mapping[str, Any] | None:
        cursor = await connection.execute(sql, params)
        return await cursor.fetchone() if cursor.description else None

    return run


def on_session(session: AsyncSession) -> Run:
    async def run(sql: str, params: dict[str, Any]) -> Mapping[str, Any] | None:
        connection = await session.connection()
        result = await connection.exec_driver_sql(sql, params)
        row = result.mappings().first() if result.returns_rows else None
        return None if row is None else dict(row)

    return run


async def reserve(
    run: Run, tenant_id: UUID, key: str, body_hash: str
) -> StoredAnswer | None:
    """None when the key is new (now reserved); the stored answer for a repeat.
    Raises IdempotencyKeyReused when the key came with another body."""
    ids = {"tenant_id": tenant_id, "key": key}
    await run(_DELETE_EXPIRED, ids)
    reserved = await run(_RESERVE, {**ids, "hash": body_hash, "kept_for": KEPT_FOR})
    if reserved is not None:
        return None
    record = await run(_STORED, ids)
    if record is None or record["request_hash"] != body_hash:
        raise IdempotencyKeyReused(key)
    return StoredAnswer(status_code=record["status_code"], body=record["response"])


async def remember(run: Run, tenant_id: UUID, key: str, answer: StoredAnswer) -> None:
    """Store the answer to replay, in the same transaction that reserved the key."""
    await run(
        _REMEMBER,
        {
            "tenant_id": tenant_id,
            "key": key,
            "status_code": answer.status_code,
            "response": Jsonb(answer.body),
        },
    )
