"""`GET /v1/models` in OpenAI's list format, with OpenRouter's extra fields."""

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from shared.db.models import CatalogModel


class ModelView(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    name: str
    context_length: int | None
    max_completion_tokens: int | None
    pricing: dict[str, str]  # USD per token, decimal strings exactly as listed


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelView]


def decimal_text(value: Decimal) -> str:
    """`0.000000250000` → `0.00000025`: exact, never in exponent form."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def model_view(row: CatalogModel) -> ModelView:
    # The listed strings win; the Decimal columns fill in a price key they lack.
    pricing = {
        "prompt": decimal_text(row.prompt_price),
        "completion": decimal_text(row.completion_price),
        **{str(key): str(value) for key, value in row.pricing.items()},
    }
    return ModelView(
        id=row.id,
        created=row.created or 0,
        owned_by=row.id.split("/", 1)[0],
        name=row.name,
        context_length=row.context_length,
        max_completion_tokens=row.max_completion_tokens,
        pricing=pricing,
    )
