"""Usage as the API shows it: exact USD as decimal strings."""

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field


def usd(value: Decimal) -> str:
    """An exact amount without exponent or trailing zeros: `0.000123`, `0`."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


class UsageRow(BaseModel):
    """Usage of one group; the grouping fields not asked for are absent."""

    model: str | None = None
    provider: str | None = None
    day: date | None = None
    strategy: str | None = None
    tenant: str | None = None
    requests: int = Field(description="calls made to OpenRouter (attempts)")
    succeeded: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: str = Field(description="exact USD, a decimal string")


class UsageTotals(BaseModel):
    requests: int
    succeeded: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: str


class UsageReport(BaseModel):
    object: Literal["usage"] = "usage"
    start: date
    end: date  # included
    group_by: list[str]
    totals: UsageTotals
    data: list[UsageRow]
