"""The `upstream_batches` table: one OpenRouter Batch API batch helixq submitted.

A row is written (`submitting`, with its jobs attached) before the POST is sent, and
`sent_at` is set just before it goes: a row with `sent_at` and no `upstream_id` is a
POST whose answer was lost, reconciled against OpenRouter's list before anything is
sent again (workers.maintenance.discount_submission).
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base


class UpstreamBatch(Base):
    __tablename__ = "upstream_batches"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True, default=uuid.uuid4)
    batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    model: Mapped[str] = mapped_column(String(200))  # as sent upstream
    # OpenRouter's id; NULL until its answer to the POST was read.
    upstream_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    # submitting, then OpenRouter's statuses (validating ... completed, failed, ...)
    status: Mapped[str] = mapped_column(String(16))
    request_count: Mapped[int] = mapped_column(Integer)
    body_bytes: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    poll_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(20, 12))
    error: Mapped[str | None] = mapped_column(Text)
    results_stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The tenant's budget reservation for its lines at batch prices, settled once
    # its results are stored (or released when it never runs): shared.budget.
    reserved_usd: Mapped[Decimal | None] = mapped_column(Numeric(20, 12))
    budget_month: Mapped[str | None] = mapped_column(String(7))
    # OpenRouter answered 402 (credits short) since this time: its results wait
    # upstream until credits are added; polled again meanwhile.
    payment_required_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # The helixq batch was cancelled: the cancel was asked upstream at this time.
    cancel_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deleted upstream once its results were stored (HELIXQ_DISCOUNT_DELETE_STORED).
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        # The submission and polling sweeps read only the rows still in play.
        Index(
            "ix_upstream_batches_open",
            "status",
            "next_poll_at",
            postgresql_where=text("results_stored_at IS NULL"),
        ),
    )
