"""Account endpoints: GET /key (and legacy /auth/key), /credits, /activity,
/generation. All read the one ledger (simulator.ledger), so they agree: /credits'
usage is the sum of every key's usage and of every /activity row."""

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from simulator.auth import authenticate, authenticate_management, key_label
from simulator.billing import json_number
from simulator.errors import USER_ID, SimError, json_response
from simulator.state import STATE, SimulatorState

ACTIVITY_DAYS = 30  # OpenRouter keeps the last 30 completed UTC days

_ZERO_USAGE = (
    "byok_usage",
    "byok_usage_daily",
    "byok_usage_weekly",
    "byok_usage_monthly",
)


def _key_json(key: str, state: SimulatorState) -> dict[str, Any]:
    """Describe the caller's key with usage summed from the generations it paid."""
    account = state.ledger.key(key)
    settings, spent = state.settings, account.total
    limit = settings.credit_limit_usd
    periods = account.periods(datetime.now(UTC).date())
    return {
        "label": key_label(key),
        "limit": None if limit is None else json_number(limit),
        "limit_remaining": None if limit is None else json_number(limit - spent),
        "limit_reset": None,
        "include_byok_in_limit": False,
        "usage": json_number(spent),
        "usage_daily": json_number(periods["daily"]),
        "usage_weekly": json_number(periods["weekly"]),
        "usage_monthly": json_number(periods["monthly"]),
        **dict.fromkeys(_ZERO_USAGE, 0),
        "is_free_tier": settings.credits_usd <= 0,
        "is_management_key": False,
        "is_provisioning_key": False,
        "expires_at": None,
        "creator_user_id": USER_ID,
        "rate_limit": {
            "requests": -1,
            "interval": "10s",
            "note": "This field is deprecated and safe to ignore.",
        },
    }


async def get_key(request: web.Request) -> web.Response:
    """GET /key: the caller's key, limit and usage."""
    state = request.app[STATE]
    key = authenticate(request, state.settings)
    return json_response({"data": _key_json(key, state)})


async def get_credits(request: web.Request) -> web.Response:
    """GET /credits: credits bought and spent, in USD."""
    state = request.app[STATE]
    authenticate_management(request, state.settings)
    data = {
        "total_credits": json_number(
            state.settings.credits_usd + state.ledger.credits_added
        ),
        "total_usage": json_number(state.ledger.total),
    }
    return json_response({"data": data})


def _activity_days(request: web.Request, today: date) -> list[date]:
    """The `date` asked for, else the last 30 completed UTC days."""
    raw = request.query.get("date")
    if raw is None:
        return [today - timedelta(days=n) for n in range(ACTIVITY_DAYS, 0, -1)]
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise SimError(400, f"Invalid date {raw!r}: expected YYYY-MM-DD") from None
    if not today - timedelta(days=ACTIVITY_DAYS) <= day <= today:
        raise SimError(400, "date must be within the last 30 days")
    return [day]


async def get_activity(request: web.Request) -> web.Response:
    """GET /activity[?date=YYYY-MM-DD]: spend per model and UTC day (a management
    key). One row per model and day: the simulator serves each model from one
    provider, so OpenRouter's rows per endpoint are one per model here. A `date`
    of today answers its figures so far."""
    state = request.app[STATE]
    authenticate_management(request, state.settings)
    days = _activity_days(request, datetime.now(UTC).date())
    rows = []
    for day, model_id, row in state.ledger.days(days):
        model = state.catalog.find(model_id)
        rows.append(
            {
                "date": day.isoformat(),
                "model": model_id,
                "model_permaslug": model.canonical_slug if model else model_id,
                "endpoint_id": f"{model_id}@{model.provider.name if model else ''}",
                "provider_name": model.provider.name if model else None,
                "usage": json_number(row.usage),
                "byok_usage_inference": 0,
                "requests": row.requests,
                "prompt_tokens": row.prompt_tokens,
                "completion_tokens": row.completion_tokens,
                "reasoning_tokens": row.reasoning_tokens,
            }
        )
    return json_response({"data": rows})


async def get_generation(request: web.Request) -> web.Response:
    """GET /generation?id=gen-…: stats of one served completion."""
    state = request.app[STATE]
    authenticate(request, state.settings)
    generation_id = request.query.get("id")
    if not generation_id:
        raise SimError(400, "id is required")
    generation = state.generations.get(generation_id, time.monotonic())
    if generation is None:
        raise SimError(404, f"Generation {generation_id} not found")
    return json_response({"data": generation.as_json()})
