"""The reconciliation report as the API shows it: exact USD as decimal strings."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class LedgerSource(BaseModel):
    """The attempts whose cost comes from one source (docs/ledger.md)."""

    cost_source: str | None = Field(
        description="reported, estimated, reconciled, attributed, unbilled, unknown;"
        " null for calls recorded before the ledger kept sources"
    )
    attempts: int
    cost_usd: str
    without_cost: int = Field(description="attempts whose cost is not known at all")


class DifferenceRow(BaseModel):
    """OpenRouter's activity for a model and UTC day beside the ledger's."""

    day: date
    model: str
    upstream_key: str
    upstream_usd: str
    ledger_usd: str = Field(description="the ledger's figure before attribution")
    difference_usd: str = Field(description="upstream - ledger")
    attributed_usd: str
    unattributed_usd: str = Field(
        description="what no attempt could take: billed calls the ledger has no row"
        " for, or a ledger above the bill"
    )
    attributed_attempts: int
    upstream_requests: int | None
    ledger_requests: int
    checked_at: datetime


class ReconciliationReport(BaseModel):
    object: Literal["reconciliation"] = "reconciliation"
    start: date
    end: date
    ledger: list[LedgerSource]
    differences: list[DifferenceRow]
