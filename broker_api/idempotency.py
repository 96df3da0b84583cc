"""`Idempotency-Key`: the same key and body give the same answer, once, per tenant.

The key is reserved by an INSERT inside the use case's own transaction, so a
concurrent duplicate waits on the unique index until the first commits, then reads
its answer: exactly one job, whatever the timing.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import IdempotencyRecord
from shared.errors import IdempotencyKeyReused

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: object) -> str:
    """A stable hash of a request body (key order does not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def reserve(
    session: AsyncSession, tenant_id: UUID, key: str, body_hash: str
) -> StoredAnswer | None:
    """None when the key is new (now reserved); the stored answer for a repeat."""
    now = datetime.now(UTC)
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at <= now,
        )
    )
    reserved = await session.scalar(
        insert(IdempotencyRecord)
        .values(
            tenant_id=tenant_id,
            key=key,
            request_hash=body_hash,
            status_code=0,
            response={},
            expires_at=now + KEPT_FOR,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    if reserved is not None:
        return None
    record = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
        )
    )
    if record is None or record.request_hash != body_hash:
        raise IdempotencyKeyReused(key)
    return StoredAnswer(status_code=record.status_code, body=record.response)


async def remember(
    session: AsyncSession,
    tenant_id: UUID,
    key: str,
    answer: StoredAnswer,
) -> None:
    """Store the answer to replay, in the same transaction that reserved the key."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key)
        .values(status_code=answer.status_code, response=answer.body)
    )
