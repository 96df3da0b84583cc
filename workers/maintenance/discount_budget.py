"""Budgets on the discount lane, with the realtime lane's ledger (shared.budget).

A line of a tenant with a monthly budget reserves its estimate at the catalog's
`:batch` prices when it is grouped; a line that does not fit fails
`budget_exceeded`, as a realtime line refused at admission does. Its upstream
batch keeps the sum of its lines' reservations and settles it with what OpenRouter
charged once its results are stored, or releases it when it is never sent. The
periodic tasks run on Celery's threads, so the ledger's scripts are called with
the blocking Redis client here.
"""

from dataclasses import dataclass
from decimal import Decimal

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import budget
from shared.db.models import Tenant
from shared.db.upstream_batches import UpstreamBatch
from shared.redis_keys import TENANT_BUDGET_TTL_S, tenant_budget


@dataclass
class BudgetLedger:
    """Reserves the lines of one submission pass (seeding a month's ledger once)."""

    redis: Redis
    session: Session
    month: str

    def reserve(self, slug: str, *, estimate_usd: Decimal, budget_usd: Decimal) -> bool:
        """Reserve a line's estimate; False when the budget cannot take it."""
        reserved = self._eval(slug, estimate_usd, budget_usd)
        if reserved < 0:  # a new month, or Redis lost the ledger
            spent = budget.recorded_spend(self.session, slug, self.month)
            self.redis.eval(
                budget.SEED_SCRIPT,
                1,
                tenant_budget(slug, self.month),
                budget.to_nano(spent),
                TENANT_BUDGET_TTL_S,
            )
            reserved = self._eval(slug, estimate_usd, budget_usd)
        return reserved > 0

    def _eval(self, slug: str, estimate_usd: Decimal, budget_usd: Decimal) -> int:
        answer = self.redis.eval(
            budget.RESERVE_SCRIPT,
            1,
            tenant_budget(slug, self.month),
            budget.to_nano(estimate_usd),
            budget.to_nano(budget_usd),
            TENANT_BUDGET_TTL_S,
        )
        return int(answer)


def settle(
    client: Redis,
    slug: str,
    *,
    month: str,
    reserved_usd: Decimal,
    actual_usd: Decimal,
) -> None:
    """Replace an upstream batch's reservation with what its lines cost."""
    key = tenant_budget(slug, month)
    pipe = client.pipeline(transaction=True)
    pipe.hincrby(key, "reserved", -budget.to_nano(reserved_usd))
    pipe.hincrby(key, "spent", budget.to_nano(actual_usd))
    pipe.expire(key, TENANT_BUDGET_TTL_S)
    pipe.execute()


def release_reservation(
    client: Redis | None,
    session: Session,
    row: UpstreamBatch,
    *,
    actual_usd: Decimal,
) -> None:
    """Settle an upstream batch's reservation with `actual_usd`, once."""
    if client is None or row.reserved_usd is None or row.budget_month is None:
        return
    slug = session.scalar(select(Tenant.slug).where(Tenant.id == row.tenant_id))
    if slug is not None:
        settle(
            client,
            slug,
            month=row.budget_month,
            reserved_usd=row.reserved_usd,
            actual_usd=actual_usd,
        )
    row.reserved_usd = None  # committed with the row's new state: settled once
