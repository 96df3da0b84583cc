"""What a worker knows of a job it holds, and of the calls it makes for it."""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from shared.cost import NO_DETAILS, LedgerCost, UsageDetails
from shared.jobs import AttemptOutcome, CostSource
from shared.routing.catalog import ModelInfo
from workers.openrouter.schemas import JsonObject


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker now holds, with what it needs to make the call."""

    id: UUID
    claim_token: UUID
    request: JsonObject
    route: JsonObject | None
    retries: int
    tenant_default_model: str | None
    tenant_slug: str
    # Where the job's end is announced; None: nowhere, and no transaction is needed.
    webhook_url: str | None = None
    tenant_route_strategy: str | None = None
    tenant_fallback_strategy: str | None = None
    tenant_model_pool: list[dict[str, Any]] | None = None
    tenant_model_substitution: str | None = None


@dataclass(frozen=True, slots=True)
class Ended:
    """A finish or failure that took effect, and its webhook delivery (if any), to
    send once committed."""

    delivery_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """An upstream call about to be made; its attempt row is written first."""

    model: str
    id: UUID = field(default_factory=uuid4)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The ledger's figure until the answer: list price x the prompt estimate and
    # max_tokens (shared.cost); None for a model the catalog cannot price.
    reserve_usd: Decimal | None = None
    pricing: ModelInfo | None = None  # the catalog's prices, for estimates


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One upstream call, as the ledger keeps it."""

    job_id: UUID
    model: str
    outcome: AttemptOutcome
    started_at: datetime
    latency_ms: int
    http_status: int | None = None
    generation_id: str | None = None
    provider: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None
    first_token_ms: int | None = None  # a streamed call's time to its first chunk
    details: UsageDetails = NO_DETAILS
    cost_source: CostSource = CostSource.REPORTED
    cost_note: str | None = None
    # The row begin_attempt wrote before the call (Call.id); the answer goes onto it.
    id: UUID = field(default_factory=uuid4)


def priced(record: AttemptRecord, cost: LedgerCost) -> AttemptRecord:
    """`record` with the ledger's cost, its source and note."""
    return replace(
        record, cost_usd=cost.usd, cost_source=cost.source, cost_note=cost.note
    )
