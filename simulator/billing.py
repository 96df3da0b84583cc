"""Exact cost arithmetic with Decimal, and the credits pre-flight (402)."""

import math
from dataclasses import dataclass
from decimal import Decimal

from simulator.catalog import ModelEntry, Prices
from simulator.errors import SimError
from simulator.settings import SimulatorSettings

_CREDITS_HINT = (
    "Add credits at https://openrouter.ai/settings/credits or lower max_tokens."
)


@dataclass(frozen=True, slots=True)
class Cost:
    """USD charged for one generation, split as `usage.cost_details` reports it."""

    prompt: Decimal
    completion: Decimal
    request: Decimal

    @property
    def total(self) -> Decimal:
        """Return the whole charge."""
        return self.prompt + self.completion + self.request


def price_usage(
    prices: Prices, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> Cost:
    """Price tokens at the model's prices; cached prompt tokens at the cache price."""
    prompt = prompt_tokens * prices.prompt
    if cached_tokens and prices.cache_read is not None:
        prompt -= cached_tokens * (prices.prompt - prices.cache_read)
    return Cost(
        prompt=prompt,
        completion=completion_tokens * prices.completion,
        request=prices.request,
    )


def json_number(value: Decimal) -> int | float:
    """Emit a Decimal as a JSON number; floats keep its digits (shortest repr)."""
    return int(value) if value == value.to_integral_value() else float(value)


def available_credits(
    settings: SimulatorSettings, spent: Decimal, *, added: Decimal = Decimal(0)
) -> tuple[Decimal, str]:
    """Return what can still be spent and which limit binds it."""
    balance = settings.credits_usd + added - spent
    if settings.credit_limit_usd is not None:
        key_remaining = settings.credit_limit_usd - spent
        if key_remaining < balance:
            return key_remaining, "openrouter_key_limit"
    return balance, "openrouter_credits"


def check_credits(
    model: ModelEntry,
    *,
    prompt_tokens: int,
    max_output_tokens: int | None,
    settings: SimulatorSettings,
    spent: Decimal,
    credits_added: Decimal = Decimal(0),
) -> None:
    """Reserve the worst case (prompt + full output) or raise OpenRouter's 402."""
    available, source = available_credits(settings, spent, added=credits_added)
    metadata = {"limit_source": source, "remedy_hint": _CREDITS_HINT}
    if available <= 0:
        message = "Insufficient credits. Add more using https://openrouter.ai/credits"
        raise SimError(402, message, metadata=metadata)
    output = (
        max_output_tokens or model.max_completion_tokens or settings.completion_tokens
    )
    worst = price_usage(model.prices, prompt_tokens, output)
    if worst.total <= available:
        return
    per_token = model.prices.completion
    left = available - worst.prompt - worst.request
    affordable = max(math.floor(left / per_token), 0) if per_token > 0 else 0
    message = (
        "This request requires more credits, or fewer max_tokens. "
        f"You requested up to {output} tokens, but can only afford {affordable}."
    )
    raise SimError(402, message, metadata=metadata)
