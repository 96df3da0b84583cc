"""Group the discount lane's waiting lines into upstream batches: routing first,
then grouping, within the in-flight caps and the tenants' budgets.

1. **Route.** The tenant's strategy picks each line's model at the catalog's
   `:batch` prices (workers.maintenance.discount_routing).
2. **Group.** Lines are grouped per helixq batch and model within OpenRouter's
   limits (HELIXQ_DISCOUNT_MAX_REQUESTS, HELIXQ_DISCOUNT_MAX_BYTES).
3. **Admit.** A group becomes an upstream batch only while its tenant, and the
   deployment, are under their caps of upstream batches and lines in flight
   (HELIXQ_DISCOUNT_*_IN_FLIGHT); the others wait for a later pass, and a tenant at
   its cap is not even read, so it cannot hold the others back.
4. **Reserve.** A line of a tenant with a monthly budget reserves its estimate at
   batch prices; one that does not fit fails `budget_exceeded`
   (workers.maintenance.discount_budget).

Each upstream batch's row (`submitting`) and its jobs' link to it commit before
anything is sent (workers.maintenance.discount_submission).
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from redis import Redis
from sqlalchemy import text
from sqlalchemy.orm import Session

from shared import budget
from shared.cost import budget_estimate_usd
from shared.db.upstream_batches import UpstreamBatch
from shared.errors import InvalidRequest
from shared.lanes import BATCH_VARIANT_SUFFIX
from shared.model_ids import upstream_model_id
from shared.rate_limits import TenantLimits, estimated_tokens, tenant_limits
from workers.jobs import periodic_transitions
from workers.jobs.completion import INVALID_ROUTING
from workers.limits.gate import BUDGET_EXCEEDED
from workers.maintenance.discount_budget import BudgetLedger
from workers.maintenance.discount_lane import SUBMITTING, DiscountConfig, InFlightCaps
from workers.maintenance.discount_routing import DiscountRouter
from workers.routing.planner import TenantFacts

WAITING_LIMIT = 50_000
# Room for a line's JSON around its body in the create request.
LINE_OVERHEAD_BYTES = 64
BUDGET_REFUSED = "the tenant's monthly budget cannot take this line at batch prices"

_WAITING = text("""
SELECT jobs.id, jobs.batch_id, jobs.tenant_id, jobs.request, jobs.route
FROM jobs
WHERE jobs.lane = 'discount' AND jobs.status = 'queued' AND jobs.batch_id IS NOT NULL
  AND jobs.upstream_batch_id IS NULL AND NOT (jobs.tenant_id = ANY(:at_cap))
ORDER BY jobs.batch_id, jobs.created_at, jobs.id
LIMIT :limit
FOR UPDATE OF jobs SKIP LOCKED
""")

# Read once per tenant, not once per line.
_TENANTS = text("""
SELECT id, slug, default_model, route_strategy, fallback_strategy, model_pool,
    model_substitution, limits
FROM tenants WHERE id = ANY(:ids)
""")

_IN_FLIGHT = text("""
SELECT tenant_id, count(*) AS batches, sum(request_count) AS lines
FROM upstream_batches WHERE results_stored_at IS NULL
GROUP BY tenant_id
""")

# The lines travel as one JSON document: a text[] of 5,000 decisions costs more to
# escape than to route.
_LINK = text("""
UPDATE jobs SET upstream_batch_id = :upstream_batch_id, routing = line.routing
FROM jsonb_to_recordset(CAST(:lines AS jsonb)) AS line (id uuid, routing jsonb)
WHERE jobs.id = line.id
""")


def upstream_model(model: str, *, batch_slug: bool) -> str:
    base = upstream_model_id(model).removesuffix(BATCH_VARIANT_SUFFIX)
    return base + BATCH_VARIANT_SUFFIX if batch_slug else base


def line_body(request: dict[str, Any]) -> dict[str, Any]:
    """A job's request as a batch line's body: the batch names the model."""
    return {k: v for k, v in request.items() if k not in ("model", "models")}


@dataclass(frozen=True)
class _Tenant:
    facts: TenantFacts
    limits: TenantLimits


@dataclass(frozen=True)
class _Line:
    row: Any
    tenant: _Tenant
    model: str  # as routed (the catalog's id)
    routing: dict[str, Any]  # the decision, as `jobs.routing`
    size: int


@dataclass
class _Group:
    batch_id: UUID
    tenant_id: UUID
    slug: str
    limits: TenantLimits
    model: str  # as sent upstream
    lines: list[_Line] = field(default_factory=list)
    body_bytes: int = 0


@dataclass
class InFlight:
    """Upstream batches and lines in flight, per tenant and in all."""

    tenants: dict[UUID, tuple[int, int]]

    @classmethod
    def read(cls, session: Session) -> "InFlight":
        rows = session.execute(_IN_FLIGHT).all()
        return cls({r.tenant_id: (int(r.batches), int(r.lines or 0)) for r in rows})

    def total(self) -> tuple[int, int]:
        return (
            sum(b for b, _ in self.tenants.values()),
            sum(n for _, n in self.tenants.values()),
        )

    def at_cap(self, caps: InFlightCaps) -> list[UUID]:
        return [
            tenant
            for tenant, (batches, lines) in self.tenants.items()
            if batches >= caps.tenant_batches or lines >= caps.tenant_lines
        ]

    def admits(self, tenant: UUID, caps: InFlightCaps) -> bool:
        batches, lines = self.total()
        mine = self.tenants.get(tenant, (0, 0))
        return (
            batches < caps.batches
            and lines < caps.lines
            and mine[0] < caps.tenant_batches
            and mine[1] < caps.tenant_lines
        )

    def add(self, tenant: UUID, lines: int) -> None:
        batches, count = self.tenants.get(tenant, (0, 0))
        self.tenants[tenant] = (batches + 1, count + lines)


@dataclass
class Grouped:
    """One grouping pass: upstream batches written, lines failed here."""

    upstream_batches: int = 0
    failed: int = 0


def _tenants(session: Session, rows: Sequence[Any]) -> dict[UUID, _Tenant]:
    ids = list({row.tenant_id for row in rows})
    return {
        row.id: _Tenant(
            TenantFacts(
                slug=row.slug,
                default_model=row.default_model,
                route_strategy=row.route_strategy,
                fallback_strategy=row.fallback_strategy,
                model_pool=row.model_pool,
                model_substitution=row.model_substitution,
            ),
            _limits(row.limits),
        )
        for row in session.execute(_TENANTS, {"ids": ids})
    }


def _routed(
    rows: Iterable[Any], tenants: dict[UUID, _Tenant], router: DiscountRouter
) -> tuple[list[_Line], list[tuple[UUID, str]]]:
    """Each line with its model, and the lines whose tenant's routing is corrupt."""
    lines: list[_Line] = []
    unroutable: list[tuple[UUID, str]] = []
    for row in rows:
        tenant = tenants[row.tenant_id]
        try:
            routed = router.route(row.request, tenant.facts, row.route)
        except InvalidRequest as error:  # a tenant config the admin API refuses
            unroutable.append((row.id, error.message))
            continue
        size = len(json.dumps(line_body(row.request))) + LINE_OVERHEAD_BYTES
        decision = routed.decision.to_json()
        lines.append(_Line(row, tenant, routed.model, decision, size))
    return lines, unroutable


def _groups(lines: Iterable[_Line], config: DiscountConfig) -> list[_Group]:
    groups: list[_Group] = []
    open_groups: dict[tuple[UUID, str], _Group] = {}
    for line in lines:
        row = line.row
        model = upstream_model(line.model, batch_slug=config.batch_slug)
        group = open_groups.get((row.batch_id, model))
        full = group is not None and (
            len(group.lines) >= config.max_requests
            or group.body_bytes + line.size > config.max_bytes
        )
        if group is None or full:
            tenant = line.tenant
            group = _Group(
                row.batch_id, row.tenant_id, tenant.facts.slug, tenant.limits, model
            )
            open_groups[(row.batch_id, model)] = group
            groups.append(group)
        group.lines.append(line)
        group.body_bytes += line.size
    return groups


def _limits(raw: object) -> TenantLimits:
    try:
        return tenant_limits(raw)
    except ValueError:  # an unreadable row: the realtime gate ignores it too
        return TenantLimits()


def group_waiting_lines(
    session: Session, config: DiscountConfig, ledger_redis: Redis | None = None
) -> Grouped:
    """Write an upstream batch row per admitted group of waiting lines and link
    its jobs; fail the lines that cannot be routed or budgeted."""
    in_flight = InFlight.read(session)
    at_cap = in_flight.at_cap(config.caps)
    params = {"limit": WAITING_LIMIT, "at_cap": at_cap}
    rows = session.execute(_WAITING, params).all()
    if not rows:
        return Grouped()
    router = DiscountRouter(session, config.routing)
    lines, unroutable = _routed(rows, _tenants(session, rows), router)
    month = budget.month_of(datetime.now(UTC))
    ledger = BudgetLedger(ledger_redis, session, month) if ledger_redis else None
    grouped = Grouped()
    refused: list[UUID] = []
    for group in _groups(lines, config):
        if not in_flight.admits(group.tenant_id, config.caps):
            continue  # waits, unlinked, for a later pass
        reserved = _reserve(group, ledger, router, refused)
        if not group.lines:
            continue
        _write(session, group, reserved, month)
        in_flight.add(group.tenant_id, len(group.lines))
        grouped.upstream_batches += 1
    grouped.failed = _fail(session, unroutable, refused)
    return grouped


def _reserve(
    group: _Group,
    ledger: BudgetLedger | None,
    router: DiscountRouter,
    refused: list[UUID],
) -> Decimal | None:
    """Reserve each line's estimate; the lines that do not fit leave the group."""
    budget_usd = group.limits.monthly_budget_usd
    if ledger is None or budget_usd is None:
        return None
    kept: list[_Line] = []
    total = Decimal(0)
    for line in group.lines:
        prompt, completion = estimated_tokens(line.row.request)
        estimate = budget_estimate_usd(
            router.catalog.get(line.model),
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
        if ledger.reserve(group.slug, estimate_usd=estimate, budget_usd=budget_usd):
            kept.append(line)
            total += estimate
        else:
            refused.append(line.row.id)
    group.lines = kept
    group.body_bytes = sum(line.size for line in kept)
    return total


def _write(
    session: Session, group: _Group, reserved: Decimal | None, month: str
) -> None:
    upstream = UpstreamBatch(
        batch_id=group.batch_id,
        tenant_id=group.tenant_id,
        model=group.model,
        status=SUBMITTING,
        request_count=len(group.lines),
        body_bytes=group.body_bytes,
        reserved_usd=reserved,
        budget_month=month if reserved is not None else None,
    )
    session.add(upstream)
    session.flush()
    session.execute(
        _LINK,
        {
            "upstream_batch_id": upstream.id,
            "lines": json.dumps(
                [
                    {"id": str(line.row.id), "routing": line.routing}
                    for line in group.lines
                ]
            ),
        },
    )


def _fail(
    session: Session, unroutable: Sequence[tuple[UUID, str]], refused: list[UUID]
) -> int:
    failed = 0
    by_message: dict[str, list[UUID]] = defaultdict(list)
    for job_id, message in unroutable:
        by_message[message].append(job_id)
    for message, job_ids in by_message.items():
        failed += periodic_transitions.fail_waiting_discount_jobs(
            session, job_ids, code=INVALID_ROUTING, message=message
        )
    if refused:
        failed += periodic_transitions.fail_waiting_discount_jobs(
            session, refused, code=BUDGET_EXCEEDED, message=BUDGET_REFUSED
        )
    return failed
