"""What a claimed job must hold before its first call, and gives back at its end.

`admit` runs right after the claim, while the job's message is still unacked (see
workers.jobs.completion): a running slot if the tenant caps them, a budget reservation
if it has a budget, then tokens for its first candidate model. Tokens up
to HELIXQ_LIMIT_HORIZON_S ahead are waited for there, so the worker fetches no
more messages meanwhile and the jobs behind stay in their tenant queues, in order,
for Celery's round robin to hand out fairly. Anything longer defers the job
(re-queued, no retry counted); a budget that cannot take the job refuses it.

The upstream counts calls as they arrive, so a call must leave at its slot, not a
ledger write later: admission wakes the job HELIXQ_LIMIT_SEND_LEAD_S before its
slot, the attempt row is written meanwhile, and the rest of the wait is slept
right before the call goes out (`take_for_call`). A call that is late all the same
(its slot was at once, and the write took longer than LATE_S) takes new tokens for
a slot of its own and leaves the first ones unused: counted at its slot, it would
reach the upstream together with the calls whose slots came after. Giving the first
ones back would not do: while many calls are late, the bucket would hand out more
than the calls that did not go could have left in it.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from uuid import UUID

from redis.asyncio import Redis

from shared import budget
from shared.budget_periods import period_of
from shared.cost import budget_estimate_usd, estimated_cost_usd
from shared.model_ids import upstream_model_id
from shared.rate_limits import (
    RateLimitSettings,
    TenantLimits,
    estimated_tokens,
    provider_of,
)
from shared.routing.catalog import ModelInfo
from workers.limits.buckets import Grant, RateLimiter
from workers.limits.running import RunningSlots
from workers.limits.tenants import TenantLimitsCache
from workers.openrouter.keys import TenantKeys, UnreadableTenantKey, UpstreamKey
from workers.runtime.intake import Intake
from workers.runtime.metrics import add_rate_limit_wait
from workers.runtime.redis_batching import RedisBatcher

logger = logging.getLogger(__name__)

BUDGET_EXCEEDED = "budget_exceeded"
BUDGET_REFUSED = "the tenant's budget for this period cannot cover this job"
UPSTREAM_KEY_UNREADABLE = "upstream_key_unreadable"
# A call this much later than its slot takes new tokens. Reservations reach at most
# one horizon ahead, so its new slot is at most about that far off.
LATE_S = 0.01
RETAKE_HORIZONS = 2
Catalog = Callable[[], Awaitable[Mapping[str, ModelInfo]]]


@dataclass
class Ticket:
    """What one claimed job holds from the limits until it ends."""

    tenant: str
    limits: TenantLimits
    tokens: int
    upstream: UpstreamKey  # the OpenRouter key the job's calls go out on
    prepaid_model: str | None = None  # tokens already taken for this model's call
    slot_s: float = 0.0  # when that call may go (time.monotonic())
    has_slot: bool = False
    month: str | None = None  # set when a budget reservation is held
    reserved_usd: Decimal = Decimal(0)
    spent_usd: Decimal = field(default=Decimal(0))


@dataclass(frozen=True, slots=True)
class Verdict:
    """`admit`'s answer: go (ticket), come back in `defer_s`, or fail (`refusal`)."""

    ticket: Ticket | None = None
    defer_s: float | None = None
    refusal: str | None = None
    refusal_message: str | None = None


@dataclass(frozen=True, slots=True)
class GateParts:
    """The gate's collaborators (built per process in workers.runtime.process)."""

    limiter: RateLimiter
    tenants: TenantLimitsCache
    keys: TenantKeys  # the OpenRouter key of each tenant's calls
    running: RunningSlots
    redis: "Redis"
    batcher: RedisBatcher  # the per-call commands, sent with the other jobs'
    catalog: Catalog
    # What Postgres says a tenant spent in a month.
    recorded_spend: Callable[[str, str], Awaitable[Decimal]]
    intake: Intake  # narrows the process's prefetch count while jobs wait


class LimitsGate:
    """Admits claimed jobs against every limit and keeps their tickets."""

    def __init__(self, parts: GateParts, settings: RateLimitSettings) -> None:
        self.parts = parts
        self._settings = settings
        self._tickets: dict[UUID, Ticket] = {}

    async def admit(
        self, job_id: UUID, tenant: str, request: Mapping[str, object], model: str
    ) -> Verdict:
        """Hold the job's slot, budget and first tokens, or say why not."""
        prompt, completion = estimated_tokens(request)
        limits = await self.parts.tenants.get(tenant)
        try:
            upstream = await self.parts.keys.get(tenant)
        except UnreadableTenantKey as error:
            logger.error("%s", error)
            return Verdict(refusal=UPSTREAM_KEY_UNREADABLE, refusal_message=str(error))
        ticket = Ticket(tenant, limits, prompt + completion, upstream)
        if limits.max_running is not None:
            if not await self.parts.running.take(
                tenant, job_id, limit=limits.max_running
            ):
                return Verdict(defer_s=self._settings.helixq_limit_retry_s)
            ticket.has_slot = True
        if not await self._reserve(ticket, model, prompt, completion):
            await self._give_back(job_id, ticket)
            return Verdict(refusal=BUDGET_EXCEEDED, refusal_message=BUDGET_REFUSED)
        grant = await self._take(ticket, model)
        if not grant.granted:
            await self._give_back(job_id, ticket)
            horizon_s = self._settings.helixq_limit_horizon_s
            return Verdict(defer_s=max(grant.wait_s - horizon_s, 0.05))
        await self.wait(grant, model, early_s=self._settings.helixq_limit_send_lead_s)
        ticket.prepaid_model, ticket.slot_s = upstream_model_id(model), grant.slot_s
        self._tickets[job_id] = ticket
        return Verdict(ticket=ticket)

    def ticket_of(self, job_id: UUID) -> Ticket | None:
        """The ticket a job in flight holds (None outside `admit`…`release`)."""
        return self._tickets.get(job_id)

    async def take_for_call(self, ticket: Ticket | None, model: str) -> Grant:
        """Tokens for a call: the ones admission took, once their slot has come,
        else new ones (a fallback candidate)."""
        model = upstream_model_id(model)
        if ticket is not None and ticket.prepaid_model == model:
            ticket.prepaid_model = None
            await asyncio.sleep(max(0.0, ticket.slot_s - time.monotonic()))
            if time.monotonic() - ticket.slot_s <= LATE_S:
                return Grant(granted=True, wait_s=0.0, slot_s=ticket.slot_s)
            horizon_s = self._settings.helixq_limit_horizon_s * RETAKE_HORIZONS
            return await self._take(ticket, model, horizon_s=horizon_s)
        if ticket is None:  # a job worked without admission (tests, tools)
            ticket = Ticket(
                "", TenantLimits(), sum(estimated_tokens({})), self.parts.keys.default
            )
        return await self._take(ticket, model)

    async def wait(self, grant: Grant, model: str, *, early_s: float = 0.0) -> None:
        """Wait until `early_s` before a granted call to `model` may go (its
        slot), the whole wait counted in the monitoring counters
        (helixq_rate_limit_wait*) under the model's provider."""
        if grant.wait_s <= 0:
            return
        count = partial(
            add_rate_limit_wait, scope=provider_of(model), wait_s=grant.wait_s
        )
        with self.parts.intake.waiting():
            await asyncio.gather(
                asyncio.sleep(max(0.0, grant.slot_s - early_s - time.monotonic())),
                self.parts.batcher.send(count, what="rate-limit wait counters"),
            )

    async def release(self, job_id: UUID) -> None:
        """Give back what the job held and settle its budget; once, at its end."""
        ticket = self._tickets.pop(job_id, None)
        if ticket is not None:
            await self._give_back(job_id, ticket)

    async def _take(
        self, ticket: Ticket, model: str, *, horizon_s: float | None = None
    ) -> Grant:
        return await self.parts.limiter.take(
            model,
            tokens=ticket.tokens,
            tenant=ticket.tenant,
            tenant_table=ticket.limits.provider_table,
            upstream=ticket.upstream.scope,
            horizon_s=horizon_s,
        )

    async def _reserve(
        self, ticket: Ticket, model: str, prompt: int, completion: int
    ) -> bool:
        budget_usd = ticket.limits.monthly_budget_usd
        if budget_usd is None:
            return True
        estimate = await self._estimate_usd(model, prompt, completion)
        month = period_of(datetime.now(UTC), ticket.limits.period)
        reserve = partial(
            budget.reserve,
            self.parts.redis,
            ticket.tenant,
            month=month,
            estimate_usd=estimate,
            budget_usd=budget_usd,
        )
        try:
            reserved = await reserve()
        except budget.UnseededLedger:  # a new month, or Redis lost the ledger
            await self._seed(ticket.tenant, month)
            reserved = await reserve()
        if not reserved:
            return False
        ticket.month, ticket.reserved_usd = month, estimate
        return True

    async def _seed(self, tenant: str, month: str) -> None:
        recorded = await self.parts.recorded_spend(tenant, month)
        await budget.seed(self.parts.redis, tenant, month=month, spent_usd=recorded)

    async def pricing(
        self, request: Mapping[str, object], model: str
    ) -> tuple[ModelInfo | None, Decimal | None]:
        """The catalog's prices of `model` and what one call of `request` to it
        is reserved at (None when the catalog cannot price it)."""
        info = (await self.parts.catalog()).get(upstream_model_id(model))
        if info is None:
            return None, None
        prompt, completion = estimated_tokens(request)
        reserve = estimated_cost_usd(
            info, prompt_tokens=prompt, completion_tokens=completion
        )
        return info, reserve

    async def _estimate_usd(self, model: str, prompt: int, completion: int) -> Decimal:
        catalog = await self.parts.catalog()
        return budget_estimate_usd(
            catalog.get(upstream_model_id(model)),
            prompt_tokens=prompt,
            completion_tokens=completion,
        )

    async def _give_back(self, job_id: UUID, ticket: Ticket) -> None:
        if ticket.has_slot:
            await self.parts.running.give_back(ticket.tenant, job_id)
        if ticket.month is not None:
            await budget.settle(
                self.parts.redis,
                ticket.tenant,
                month=ticket.month,
                estimate_usd=ticket.reserved_usd,
                actual_usd=ticket.spent_usd,
            )
