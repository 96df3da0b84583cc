"""What `GET /dashboard/data` answers: the page draws its charts from this alone."""

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from shared.redaction import RedactedText

Window = Literal["15m", "1h", "6h", "24h"]


class QueueView(BaseModel):
    tenant: str
    waiting: int  # messages in the tenant's Redis lists, every priority
    queued: int  # jobs in Postgres not yet claimed
    running: int


class ThroughputPoint(BaseModel):
    t: int  # bucket start, unix seconds
    succeeded: int
    failed: int
    other: int  # cancelled or expired


class ModelPoint(BaseModel):
    t: int
    attempts: int
    p50_ms: float | None  # null while every attempt of the bucket is in flight
    p95_ms: float | None
    first_token_p50_ms: float | None  # null while no call of the bucket streamed
    cost_usd: float  # a float is exact enough to draw; totals stay decimal


class ModelSeries(BaseModel):
    model: str
    attempts: int
    failed: int  # attempts that did not succeed, retried or not
    p50_ms: float | None  # null while every attempt of the window is in flight
    p95_ms: float | None
    first_token_p50_ms: float | None  # of streamed calls; null while none streamed
    cost_usd: Decimal
    points: list[ModelPoint]


class FailureView(BaseModel):
    job_id: UUID
    tenant: str
    model: str | None
    error_code: str | None
    error_message: RedactedText | None
    finished_at: datetime | None


class BudgetAlertView(BaseModel):
    """A budget threshold a tenant reached (marked on the page)."""

    tenant: str
    period: str  # 2026-12, 2026-W49 or 2026-12-06
    threshold_percent: int
    spent_usd: Decimal
    budget_usd: Decimal
    fired_at: datetime


class DashboardData(BaseModel):
    scope: str  # "all tenants" or a tenant's slug
    window: Window
    window_s: int
    bucket_s: int
    since: int  # unix seconds of the first bucket
    now: int
    queues: list[QueueView]
    throughput: list[ThroughputPoint]
    models: list[ModelSeries]
    failures: list[FailureView]
    budget_alerts: list[BudgetAlertView]  # the newest, whatever the window
