"""Account endpoints: GET /key (and legacy /auth/key), /credits, /generation."""

import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from simulator.auth import authenticate, key_label
from simulator.billing import json_number
from simulator.errors import USER_ID, SimError, json_response
from simulator.state import STATE, SimulatorState

_ZERO_USAGE = (
    "byok_usage",
    "byok_usage_daily",
    "byok_usage_weekly",
    "byok_usage_monthly",
)


def _key_json(key: str, state: SimulatorState) -> dict[str, Any]:
    """Describe the caller's key with usage summed from served generations."""
    settings, spent = state.settings, state.ledger.total
    limit = settings.credit_limit_usd
    periods = state.ledger.periods(datetime.now(UTC).date())
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
    authenticate(request, state.settings)
    data = {
        "total_credits": json_number(
            state.settings.credits_usd + state.ledger.credits_added
        ),
        "total_usage": json_number(state.ledger.total),
    }
    return json_response({"data": data})


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
