"""SQL of the provider performance comparison: attempts over a window, per model
or per provider, with exact percentiles (`percentile_cont`) of latency and of the
time to first token."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Float, RowMapping, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from broker_api.periods import Period
from shared.db.models import Attempt, Job
from shared.jobs import AttemptOutcome
from shared.metrics import UNKNOWN_PROVIDER

PERCENTILES = (0.5, 0.95, 0.99)

_SUCCEEDED = Attempt.outcome == AttemptOutcome.SUCCEEDED.value
# Only answered calls describe the model: one still in flight has no outcome yet,
# and one interrupted lost its worker (stopped or dead), not its answer.
_ANSWERED = Attempt.outcome.not_in(
    [AttemptOutcome.STARTED.value, AttemptOutcome.INTERRUPTED.value]
)
# Throughput counts only answers that say how many tokens they produced.
_TIMED = _SUCCEEDED & Attempt.completion_tokens.is_not(None) & (Attempt.latency_ms > 0)


# Time to first token of every answered call that streamed: a call that broke
# after its first chunk still says how soon the model started.
_STREAMED = Attempt.first_token_ms.is_not(None)


def _percentile(
    column: Any, among: ColumnElement[bool], fraction: float, *, prefix: str
) -> ColumnElement[Any]:
    return (
        func.percentile_cont(fraction)
        .within_group(column)
        .filter(among)
        .label(f"{prefix}p{round(fraction * 100)}_ms")
    )


def group_key(by: str) -> ColumnElement[Any]:
    """The grouped column: `model` or `provider`."""
    if by == "model":
        return Attempt.model.expression
    return func.coalesce(Attempt.provider, UNKNOWN_PROVIDER)


async def performance_rows(
    session: AsyncSession, *, by: str, period: Period, tenant_id: UUID | None
) -> Sequence[RowMapping]:
    """Per `by` (model or provider): key, requests, succeeded, p50_ms, p95_ms,
    p99_ms, tokens, seconds (summed over answers with a token count), streamed,
    first_token_p50_ms, first_token_p95_ms, first_token_p99_ms."""
    key = group_key(by).label("key")
    query = (
        select(
            key,
            func.count().label("requests"),
            func.count().filter(_SUCCEEDED).label("succeeded"),
            # Latency of answers only: failures end early (4xx) or at the timeout.
            *(
                _percentile(Attempt.latency_ms, _SUCCEEDED, fraction, prefix="")
                for fraction in PERCENTILES
            ),
            func.coalesce(func.sum(Attempt.completion_tokens).filter(_TIMED), 0).label(
                "tokens"
            ),
            func.coalesce(
                func.sum(cast(Attempt.latency_ms, Float) / 1000).filter(_TIMED), 0.0
            ).label("seconds"),
            func.count().filter(_STREAMED).label("streamed"),
            *(
                _percentile(
                    Attempt.first_token_ms, _STREAMED, fraction, prefix="first_token_"
                )
                for fraction in PERCENTILES
            ),
        )
        .where(
            Attempt.started_at >= period.start,
            Attempt.started_at < period.end,
            _ANSWERED,
        )
        .group_by(key)
        .order_by(key)
    )
    if tenant_id is not None:
        query = query.join(Job, Job.id == Attempt.job_id).where(
            Job.tenant_id == tenant_id
        )
    return (await session.execute(query)).mappings().all()
