"""Tables: tenants, api_keys, jobs, attempts, batches, files. Postgres is the system
of record."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.upstream_batches import UpstreamBatch
from shared.jobs import AttemptOutcome, BatchStatus, CostSource, JobStatus

Money = Numeric(20, 12)  # USD; prices are per token, so costs need many decimals


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_model: Mapped[str | None] = mapped_column(String(200))
    route_strategy: Mapped[str | None] = mapped_column(String(40))
    fallback_strategy: Mapped[str | None] = mapped_column(String(40))
    # Whether routing may call another model than the one a request names
    # (shared.strategies.ModelSubstitution); NULL: the deployment's default.
    model_substitution: Mapped[str | None] = mapped_column(String(20))
    # Candidates routing picks from: [{"model": id, "weight": int, "tier": str}]
    model_pool: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # Quotas and the tenant's own rate limits (shared.rate_limits.TenantLimits).
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The only models its requests may name and routing may pick; NULL: any.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONB)
    # The OpenRouter key the tenant's calls use (NULL: OPENROUTER_API_KEY), sealed
    # with HELIXQ_SECRET_KEY (shared.sealing); its hint and label are not secret
    # (shared.upstream_keys).
    openrouter_key_sealed: Mapped[str | None] = mapped_column(Text)
    openrouter_key_hint: Mapped[str | None] = mapped_column(String(40))
    openrouter_key_label: Mapped[str | None] = mapped_column(String(32))
    openrouter_key_set_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # Set when helixq provisioned the key (OPENROUTER_MANAGEMENT_KEY): its id at
    # OpenRouter, and the credit limit last given to it (the monthly budget).
    openrouter_key_provisioned_hash: Mapped[str | None] = mapped_column(String(100))
    openrouter_key_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]*$'", name="slug"),
        # The key, its hint and label are set and cleared together.
        CheckConstraint(
            "(openrouter_key_sealed IS NULL) = (openrouter_key_label IS NULL)",
            name="openrouter_key_whole",
        ),
    )


class CatalogModel(Base):
    """One model of OpenRouter's `/api/v1/models`, prices exact (USD per token)."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    context_length: Mapped[int | None] = mapped_column(Integer)
    max_completion_tokens: Mapped[int | None] = mapped_column(Integer)
    prompt_price: Mapped[Decimal] = mapped_column(Money)
    completion_price: Mapped[Decimal] = mapped_column(Money)
    request_price: Mapped[Decimal] = mapped_column(Money, server_default="0")
    # Every price key as OpenRouter sent it (decimal strings), for the ones not above.
    pricing: Mapped[dict[str, Any]] = mapped_column(JSONB)
    supported_parameters: Mapped[list[str] | None] = mapped_column(JSONB)
    created: Mapped[int | None] = mapped_column(Integer)
    # OpenRouter's `architecture.output_modalities`: ["embeddings"] for an
    # embedding model.
    output_modalities: Mapped[list[str] | None] = mapped_column(JSONB)
    is_listed: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    updated_at: Mapped[datetime] = _now_column()


class ApiKey(Base):
    """A tenant's API key: only a visible prefix and a SHA-256 hash are kept."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="default")
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the key may do (shared.api_keys.KeyScope values); NULL: everything.
    scopes: Mapped[list[str] | None] = mapped_column(JSONB)
    # Narrows the tenant's allowed models for this key; NULL: the tenant's.
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONB)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    # Refreshed at most once a minute (broker_api.deps), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One admin or key action; rows are never changed or removed (a trigger
    refuses UPDATE, DELETE and TRUNCATE). No foreign key: the trail outlives what
    it names."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(64))  # `admin` or a key's prefix
    action: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str | None] = mapped_column(String(63))  # the tenant's slug
    target: Mapped[str] = mapped_column(String(300))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source: Mapped[str | None] = mapped_column(String(100))  # client address, `cli`

    __table_args__ = (Index("ix_audit_events_tenant_id", "tenant", "id"),)


class BudgetAlert(Base):
    """A budget threshold a tenant reached in one period: at most one row each, so
    its `budget.threshold_reached` event fires once per period."""

    __tablename__ = "budget_alerts"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    period: Mapped[str] = mapped_column(String(16))  # shared.budget_periods label
    threshold_pct: Mapped[int] = mapped_column(Integer)
    budget_usd: Mapped[Decimal] = mapped_column(Money)
    spent_usd: Mapped[Decimal] = mapped_column(Money)
    fired_at: Mapped[datetime] = _now_column()

    __table_args__ = (UniqueConstraint("tenant_id", "period", "threshold_pct"),)


_STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)
_OUTCOMES = ", ".join(f"'{outcome.value}'" for outcome in AttemptOutcome)
_COST_SOURCES = ", ".join(f"'{source.value}'" for source in CostSource)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    route: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE")
    )
    custom_id: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # realtime or discount (shared.lanes): a discount line waits for the Batch API.
    lane: Mapped[str] = mapped_column(
        String(16), default="realtime", server_default="realtime"
    )
    # The Batch API batch that carries (or carried) this job, on the discount lane.
    upstream_batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(UpstreamBatch.id, ondelete="SET NULL"), index=True
    )
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    available_at: Mapped[datetime] = _now_column()
    created_at: Mapped[datetime] = _now_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_jobs_tenant_created", "tenant_id", "created_at"),
        Index("ix_jobs_batch_status", "batch_id", "status"),
        # The sweeper scans only unfinished jobs.
        Index(
            "ix_jobs_unfinished",
            "status",
            "available_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        # A tenant's queued jobs, counted at submit against its max_queued quota.
        Index(
            "ix_jobs_tenant_queued",
            "tenant_id",
            postgresql_where=text("status = 'queued'"),
        ),
    )


class Attempt(Base):
    """One call to OpenRouter, with its own cost, even when it failed."""

    __tablename__ = "attempts"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(100))
    generation_id: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str] = mapped_column(
        String(16), default="realtime", server_default="realtime"
    )
    upstream_batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(UpstreamBatch.id, ondelete="SET NULL")
    )
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    # What OpenRouter reports beside the cost (usage, or GET /generation).
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    is_byok: Mapped[bool | None] = mapped_column(Boolean)
    upstream_inference_cost: Mapped[Decimal | None] = mapped_column(Money)
    # What `cost_usd` is (shared.jobs.CostSource); NULL only on rows written before
    # the ledger kept it. `cost_note` says why a cost is unknown or still estimated.
    cost_source: Mapped[str | None] = mapped_column(String(16))
    cost_note: Mapped[str | None] = mapped_column(Text)
    # The reconciler's schedule for GET /generation (404 for a while after a call).
    cost_checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[int | None] = mapped_column(Integer)  # None until answered
    # A streamed call's time to its first chunk; None for a call not streamed.
    first_token_ms: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        CheckConstraint(f"outcome IN ({_OUTCOMES})", name="outcome"),
        CheckConstraint(f"cost_source IN ({_COST_SOURCES})", name="cost_source"),
        # An unknown cost always says why.
        CheckConstraint(
            "cost_usd IS NOT NULL OR cost_source IS NULL OR cost_note IS NOT NULL",
            name="cost_stated",
        ),
        # The reconciler looks for costs it may still learn.
        Index(
            "ix_attempts_cost_due",
            "cost_check_at",
            postgresql_where=text("cost_source IN ('estimated', 'unknown')"),
        ),
        # The sweeper looks for calls a dead worker left without an answer.
        Index(
            "ix_attempts_started",
            "started_at",
            postgresql_where=text("outcome = 'started'"),
        ),
    )


_BATCH_STATUSES = ", ".join(f"'{status.value}'" for status in BatchStatus)


class Batch(Base):
    """A set of jobs submitted together, finished together, with partial results."""

    __tablename__ = "batches"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    # The lane asked for: auto, discount or realtime (each job holds its own).
    lane: Mapped[str] = mapped_column(
        String(16), default="realtime", server_default="realtime"
    )
    route: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    # OpenAI's batch fields. Files are named without a foreign key: deleting a file
    # leaves the batches made from it or producing it as they were.
    endpoint: Mapped[str] = mapped_column(
        String(64), server_default="/v1/chat/completions"
    )
    input_file_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    output_file_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    error_file_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    # Why validation failed: [{"code", "message", "param", "line"}].
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    completion_window_s: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Final counts, frozen when the batch ends; live counts come from its jobs.
    request_counts: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    in_progress_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalizing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelling_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_BATCH_STATUSES})", name="status"),
        Index("ix_batches_tenant_created", "tenant_id", "created_at"),
    )


class IdempotencyRecord(Base):
    """A tenant's `Idempotency-Key`: the same key and body answer the same response."""

    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WebhookSecret(Base):
    """A signing secret; during a rotation the old one also signs until it expires."""

    __tablename__ = "webhook_secrets"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    """A destination URL of a tenant; a 410 answer disables it."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (UniqueConstraint("tenant_id", "url"),)


class WebhookDelivery(Base):
    """The outbox: one event to deliver, its retries and its log."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[uuid.UUID] = mapped_column(UUID)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # [{"at", "status_code", "error", "duration_ms"}], one entry per try
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        Index("ix_webhook_deliveries_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class StoredFile(Base):
    """An uploaded or produced file (OpenAI's Files API); its bytes are FileChunks,
    or an object in the object store (`storage`)."""

    __tablename__ = "files"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where the bytes are: `postgres` (its file_chunks) or `s3` (an object named by
    # the id, shared.object_store), as HELIXQ_FILE_STORAGE was when it was written.
    storage: Mapped[str] = mapped_column(
        String(16), default="postgres", server_default="postgres"
    )

    __table_args__ = (
        Index("ix_files_tenant_created", "tenant_id", "created_at"),
        Index("ix_files_expires_at", "expires_at"),
    )


class FileChunk(Base):
    """A file's bytes in order, a bounded piece per row, so no read or write holds
    the whole file; rows go with their file (ON DELETE CASCADE)."""

    __tablename__ = "file_chunks"

    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CostDifference(Base):
    """OpenRouter's figure for a model and UTC day (`GET /activity`) beside the
    ledger's, after the per-call reconciliation; what could not be priced per call
    is attributed from here (workers.maintenance.cost_reconciliation)."""

    __tablename__ = "cost_differences"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Which upstream key's account figures these are ("default": the workers' key).
    upstream_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    upstream_usd: Mapped[Decimal] = mapped_column(Money)
    ledger_usd: Mapped[Decimal] = mapped_column(Money)  # before attribution
    difference_usd: Mapped[Decimal] = mapped_column(Money)  # upstream - ledger
    attributed_usd: Mapped[Decimal] = mapped_column(Money, server_default="0")
    attributed_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    upstream_requests: Mapped[int | None] = mapped_column(Integer)
    ledger_requests: Mapped[int] = mapped_column(Integer, server_default="0")
    checked_at: Mapped[datetime] = _now_column()
