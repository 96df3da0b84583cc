"""OpenRouter's account figures, read by the cost reconciler on a blocking client:
one generation's stats (`GET /generation`), a day's spend per model (`GET
/activity`, a management key only) and a key's usage (`GET /key`).

Every call goes through `account_get`, which takes the key to call with: the
figures are per key (a generation is visible to the key that paid for it), and
which key paid for a call may differ per tenant.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import httpx
from pydantic import SecretStr

from shared.cost import UsageDetails, usd, whole
from workers.openrouter.schemas import JsonObject


class AccountError(Exception):
    """OpenRouter did not give the figure asked for (status, or no answer)."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


def account_get(
    http: httpx.Client,
    base_url: str,
    key: SecretStr,
    path: str,
    params: Mapping[str, str] | None = None,
) -> httpx.Response:
    """GET one of OpenRouter's account endpoints with `key`; raises AccountError
    when no answer came (the key never appears in the error)."""
    url = base_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
    try:
        return http.get(url, headers=headers, params=params)
    except httpx.HTTPError as error:
        raise AccountError(f"OpenRouter unreachable: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class GenerationFigures:
    """What `GET /generation` says one call cost and used."""

    cost_usd: Decimal
    prompt_tokens: int | None
    completion_tokens: int | None
    provider: str | None
    details: UsageDetails


def generation(
    http: httpx.Client, base_url: str, key: SecretStr, generation_id: str
) -> GenerationFigures | None:
    """One call's figures; None while OpenRouter does not know the id yet (404)."""
    response = account_get(http, base_url, key, "/generation", {"id": generation_id})
    if response.status_code == httpx.codes.NOT_FOUND:
        return None
    data = _data(response)
    if not isinstance(data, dict):
        raise AccountError("GET /generation answered no data object", http_status=200)
    cost = usd(data.get("total_cost"))
    if cost is None:
        raise AccountError("GET /generation answered no total_cost", http_status=200)
    byok = data.get("is_byok")
    provider = data.get("provider_name")
    return GenerationFigures(
        cost_usd=cost,
        prompt_tokens=_first_whole(data, "native_tokens_prompt", "tokens_prompt"),
        completion_tokens=_first_whole(
            data, "native_tokens_completion", "tokens_completion"
        ),
        provider=provider if isinstance(provider, str) and provider else None,
        details=UsageDetails(
            cached_tokens=whole(data.get("native_tokens_cached")),
            reasoning_tokens=whole(data.get("native_tokens_reasoning")),
            is_byok=byok if isinstance(byok, bool) else None,
            upstream_inference_cost=usd(data.get("upstream_inference_cost")),
        ),
    )


@dataclass(frozen=True, slots=True)
class ModelDay:
    """OpenRouter's spend on one model in one UTC day (every provider's)."""

    usage_usd: Decimal = Decimal(0)
    requests: int = 0


def activity(
    http: httpx.Client, base_url: str, key: SecretStr, day: date
) -> dict[str, ModelDay]:
    """The account's spend per model on `day` (rows per endpoint, summed)."""
    response = account_get(http, base_url, key, "/activity", {"date": day.isoformat()})
    rows = _data(response)
    if not isinstance(rows, list):
        raise AccountError("GET /activity answered no data list", http_status=200)
    usage: dict[str, Decimal] = defaultdict(Decimal)
    requests: dict[str, int] = defaultdict(int)
    for row in rows:
        if not isinstance(row, dict) or row.get("date", day.isoformat()) != str(day):
            continue
        model, spent = row.get("model"), usd(row.get("usage"))
        if not isinstance(model, str) or spent is None:
            continue
        usage[model] += spent
        requests[model] += whole(row.get("requests")) or 0
    return {model: ModelDay(usage[model], requests[model]) for model in usage}


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """A key's spend as `GET /key` counts it, in USD."""

    usage_usd: Decimal
    daily_usd: Decimal | None
    monthly_usd: Decimal | None


def key_usage(http: httpx.Client, base_url: str, key: SecretStr) -> KeyUsage:
    """The key's spend: all time, today (UTC) and this month."""
    data = _data(account_get(http, base_url, key, "/key"))
    total = usd(data.get("usage")) if isinstance(data, dict) else None
    if not isinstance(data, dict) or total is None:
        raise AccountError("GET /key answered no usage", http_status=200)
    return KeyUsage(
        usage_usd=total,
        daily_usd=usd(data.get("usage_daily")),
        monthly_usd=usd(data.get("usage_monthly")),
    )


def _data(response: httpx.Response) -> object:
    if response.status_code != httpx.codes.OK:
        raise AccountError(
            f"OpenRouter answered {response.status_code}",
            http_status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError:
        raise AccountError("OpenRouter answered no JSON", http_status=200) from None
    return body.get("data") if isinstance(body, dict) else None


def _first_whole(data: JsonObject, *names: str) -> int | None:
    for name in names:
        value = whole(data.get(name))
        if value is not None:
            return value
    return None
