"""Statements: one row per attempt of a tenant in a UTC month, as CSV or JSON
Lines, streamed from a server-side cursor so that memory stays flat however many
rows a month holds. The rows' costs add up to what `/v1/usage` reports for the
month (the same attempts, the same exact column); the total is also sent ahead in
a header, summed just before the rows are read (a cost the reconciler replaces in
between would make the two differ)."""

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api.periods import Period
from broker_api.usage.views import usd
from shared.db.models import Attempt, Job
from shared.errors import InvalidRequest

ROWS_PER_FETCH = 2000  # the cursor's batch: what one round trip holds in memory
TOTAL_HEADER = "X-Helixq-Total-Cost-Usd"
ROWS_HEADER = "X-Helixq-Attempts"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES = {ExportFormat.CSV: "text/csv", ExportFormat.JSONL: "application/jsonl"}
_ACCEPTED = {
    "text/csv": ExportFormat.CSV,
    "application/jsonl": ExportFormat.JSONL,
    "application/x-ndjson": ExportFormat.JSONL,
    "application/x-jsonlines": ExportFormat.JSONL,
}

_COLUMNS = (
    ("attempt_id", Attempt.id),
    ("job_id", Attempt.job_id),
    ("batch_id", Job.batch_id),
    ("started_at", Attempt.started_at),
    ("model", Attempt.model),
    ("provider", Attempt.provider),
    ("lane", Attempt.lane),
    ("outcome", Attempt.outcome),
    ("generation_id", Attempt.generation_id),
    ("prompt_tokens", Attempt.prompt_tokens),
    ("completion_tokens", Attempt.completion_tokens),
    ("cached_tokens", Attempt.cached_tokens),
    ("cache_write_tokens", Attempt.cache_write_tokens),
    ("reasoning_tokens", Attempt.reasoning_tokens),
    ("is_byok", Attempt.is_byok),
    ("cost_usd", Attempt.cost_usd),
    ("cost_source", Attempt.cost_source),
    ("cost_note", Attempt.cost_note),
    ("upstream_inference_cost", Attempt.upstream_inference_cost),
)
FIELDS = tuple(name for name, _ in _COLUMNS)


def month_period(month: str) -> Period:
    """`YYYY-MM` as the UTC month it names."""
    try:
        if len(month) != len("YYYY-MM") or month[4] != "-":
            raise ValueError(month)
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidRequest(
            f"month: expected YYYY-MM, got {month!r}", details={"field": "month"}
        ) from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(
        datetime.combine(first, time.min, UTC),
        datetime.combine(following, time.min, UTC),
    )


def export_format(asked: str | None, accept: str | None) -> ExportFormat:
    """`format=` if given, else the first type of `Accept` that names one, else CSV."""
    if asked is not None:
        try:
            return ExportFormat(asked.lower())
        except ValueError:
            accepted = ", ".join(f.value for f in ExportFormat)
            raise InvalidRequest(
                f"format: {asked!r} is not one of {accepted}",
                details={"field": "format", "accepted": list(ExportFormat)},
            ) from None
    for part in (accept or "").split(","):
        media_type = part.split(";")[0].strip().lower()
        if media_type in _ACCEPTED:
            return _ACCEPTED[media_type]
    return ExportFormat.CSV


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement about to be streamed: its total, row count and body."""

    total_usd: Decimal
    attempts: int
    body: AsyncIterator[bytes]


def _where(period: Period, tenant_id: UUID) -> tuple[Any, ...]:
    return (
        Job.tenant_id == tenant_id,
        Attempt.started_at >= period.start,
        Attempt.started_at < period.end,
    )


async def statement(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: UUID,
    period: Period,
    fmt: ExportFormat,
) -> Statement:
    """The tenant's attempts of `period`: their total and count now (`session`),
    and the rows, read once the body is (its own session from `sessions`, opened
    only then: a response whose body is never sent holds no connection)."""
    async with session.begin():
        total, count = (
            await session.execute(
                select(func.coalesce(func.sum(Attempt.cost_usd), 0), func.count())
                .join(Job, Job.id == Attempt.job_id)
                .where(*_where(period, tenant_id))
            )
        ).one()
    body = _rows(sessions, period, tenant_id, fmt)
    return Statement(Decimal(str(total)), count, body)


async def _rows(
    sessions: async_sessionmaker[AsyncSession],
    period: Period,
    tenant_id: UUID,
    fmt: ExportFormat,
) -> AsyncIterator[bytes]:
    query = (
        select(*(column for _, column in _COLUMNS))
        .join(Job, Job.id == Attempt.job_id)
        .where(*_where(period, tenant_id))
        .order_by(Attempt.started_at, Attempt.id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    encode = _csv_lines if fmt is ExportFormat.CSV else _json_lines
    if fmt is ExportFormat.CSV:
        yield _csv_lines([FIELDS])
    async with sessions() as session, session.begin():
        result = await session.stream(query)
        async for rows in result.partitions():
            yield encode([_cells(row) for row in rows])


def _cells(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_cell(value) for value in row)


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return usd(value)  # exact, as /v1/usage shows it
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _csv_lines(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        [
            ""
            if cell is None
            else str(cell).lower()
            if isinstance(cell, bool)
            else cell
            for cell in row
        ]
        for row in rows
    )
    return buffer.getvalue().encode()


def _json_lines(rows: Sequence[Sequence[Any]]) -> bytes:
    return "".join(
        json.dumps(dict(zip(FIELDS, row, strict=True)), separators=(",", ":")) + "\n"
        for row in rows
    ).encode()
