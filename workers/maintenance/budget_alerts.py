"""Budget alerts: the periodic `check_budget_alerts` sweep.

For every tenant with a budget, the spend of its current period (the Redis
ledger the gate keeps, or Postgres when Redis has none) is compared with its
thresholds (50, 80 and 100 percent unless set). A threshold reached for the first
time in the period gets a `budget_alerts` row and, in the same transaction, a
`budget.threshold_reached` webhook event to the tenant's endpoint; the row's
uniqueness makes it once per period however many sweeps run. Deliveries are sent
after the commit (the due-webhook sweep sends any whose message is lost).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from shared import budget
from shared.budget_periods import period_of, reached_thresholds
from shared.db.models import BudgetAlert, Tenant
from shared.rate_limits import tenant_limits
from shared.redis_keys import tenant_budget
from shared.webhooks.events import EventType, budget_alert_data, event_payload
from shared.webhooks.outbox import record_event
from workers.runtime.metrics import record_budget_alert
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    tenant: str
    threshold_pct: int
    delivery_id: UUID | None  # None: the tenant has no webhook endpoint


def check_budget_alerts(
    sessions: sessionmaker[Session],
    client: redis.Redis,
    sender: DeliverySender,
    *,
    now: datetime | None = None,
) -> list[Fired]:
    """Fire every threshold reached and not yet fired this period; what fired."""
    now = now or datetime.now(UTC)
    with sessions.begin() as session:
        budgeted = session.scalars(
            select(Tenant).where(Tenant.limits.has_key("monthly_budget_usd"))
        ).all()
    fired: list[Fired] = []
    for tenant in budgeted:
        with sessions.begin() as session:
            fired += _check_tenant(session, client, tenant, now)
    for alert in fired:
        record_budget_alert(client, alert.tenant, alert.threshold_pct)
        if alert.delivery_id is not None:
            sender.send(alert.delivery_id)
        logger.info(
            "tenant %s reached %d%% of its budget", alert.tenant, alert.threshold_pct
        )
    return fired


def _check_tenant(
    session: Session, client: redis.Redis, tenant: Tenant, now: datetime
) -> list[Fired]:
    limits = tenant_limits(tenant.limits)
    budget_usd = limits.monthly_budget_usd
    if budget_usd is None:
        return []
    period = period_of(now, limits.period)
    spent = spent_in_period(session, client, tenant.slug, period)
    reached = reached_thresholds(
        float(spent), float(budget_usd), limits.alert_thresholds
    )
    fired = []
    for pct in reached:
        alert_id = session.scalar(
            insert(BudgetAlert)
            .values(
                tenant_id=tenant.id,
                period=period,
                threshold_pct=pct,
                budget_usd=budget_usd,
                spent_usd=spent,
            )
            .on_conflict_do_nothing()
            .returning(BudgetAlert.id)
        )
        if alert_id is None:
            continue  # fired earlier in this period
        data = budget_alert_data(
            alert_id=alert_id,
            tenant=tenant.slug,
            period=period,
            threshold_pct=pct,
            budget_usd=budget_usd,
            spent_usd=spent,
        )
        event = EventType.BUDGET_THRESHOLD_REACHED
        delivery_id = record_event(
            session,
            tenant_id=tenant.id,
            event_type=event,
            resource_id=alert_id,
            url=None,  # the tenant's endpoint
            payload=event_payload(event, data, now=now),
        )
        fired.append(Fired(tenant.slug, pct, delivery_id))
    return fired


def spent_in_period(
    session: Session, client: redis.Redis, slug: str, period: str
) -> Decimal:
    """What the tenant spent in `period`: the gate's ledger when Redis has it (it
    counts calls as they settle), else what Postgres recorded."""
    spent, seeded = client.hmget(tenant_budget(slug, period), "spent", "seeded")
    if seeded is not None:
        return budget.from_nano(int(spent or 0))
    return budget.recorded_spend(session, slug, period)
