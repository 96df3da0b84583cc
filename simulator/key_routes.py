"""OpenRouter's key provisioning API (/api/v1/keys: create, list, get, update,
delete) and the per-key controls under /_sim/keys (calls by key label, a 429
storm on one key)."""

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from simulator.auth import MANAGEMENT_ONLY, authenticate_management
from simulator.errors import SimError, json_response
from simulator.keys import LIMIT_RESETS
from simulator.state import STATE, SimulatorState

_MAX_STORM_S = 3600.0


def _manager(request: web.Request, state: SimulatorState) -> None:
    """Refuse a caller whose key may not manage keys (403, as OpenRouter does)."""
    key = authenticate_management(request, state.settings)
    if state.keys.sub_key_of(key) is not None:
        raise SimError(403, MANAGEMENT_ONLY)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise SimError(400, "Invalid JSON in request body") from None
    if not isinstance(body, dict):
        raise SimError(400, "Expected a JSON object")
    return body


def _limit(body: dict[str, Any]) -> Decimal | None:
    raw = body.get("limit")
    if raw is None:
        return None
    try:
        limit = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        limit = None
    if limit is None or not limit.is_finite() or limit < 0:
        raise SimError(400, "limit must be a number of USD, 0 or more, or null")
    return limit


def _limit_reset(body: dict[str, Any]) -> str | None:
    reset = body.get("limit_reset")
    if reset is not None and reset not in LIMIT_RESETS:
        raise SimError(400, f"limit_reset must be one of {', '.join(LIMIT_RESETS)}")
    return reset


def _today() -> Any:
    return datetime.now(UTC).date()


async def create_key(request: web.Request) -> web.Response:
    """POST /api/v1/keys {name, limit?, limit_reset?}: the key, shown once."""
    state = request.app[STATE]
    _manager(request, state)
    body = await _json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SimError(400, "name is required")
    key, sub_key = state.keys.create(name, _limit(body), _limit_reset(body))
    return json_response({"data": sub_key.as_json(_today()), "key": key}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    """GET /api/v1/keys[?include_disabled=true&offset=N]."""
    state = request.app[STATE]
    _manager(request, state)
    include = request.query.get("include_disabled", "").lower() == "true"
    try:
        offset = max(0, int(request.query.get("offset", "0")))
    except ValueError:
        raise SimError(400, "offset must be an integer") from None
    listed = state.keys.listed(include_disabled=include)[offset : offset + 100]
    return json_response({"data": [k.as_json(_today()) for k in listed]})


async def get_sub_key(request: web.Request) -> web.Response:
    """GET /api/v1/keys/{hash}."""
    state = request.app[STATE]
    _manager(request, state)
    sub_key = state.keys.find(request.match_info["hash"])
    return json_response({"data": sub_key.as_json(_today())})


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a PATCH sets, all checked before any is applied."""
    changes: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise SimError(400, "name must be a non-empty string")
        changes["name"] = body["name"]
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise SimError(400, "disabled must be a boolean")
        changes["disabled"] = body["disabled"]
    if "limit" in body:
        changes["limit_usd"] = _limit(body)
    if "limit_reset" in body:
        changes["limit_reset"] = _limit_reset(body)
    return changes


async def update_key(request: web.Request) -> web.Response:
    """PATCH /api/v1/keys/{hash} {name?, disabled?, limit?, limit_reset?}."""
    state = request.app[STATE]
    _manager(request, state)
    sub_key = state.keys.find(request.match_info["hash"])
    for name, value in _changes(await _json_object(request)).items():
        setattr(sub_key, name, value)
    sub_key.updated_at = datetime.now(UTC)
    return json_response({"data": sub_key.as_json(_today())})


async def delete_key(request: web.Request) -> web.Response:
    """DELETE /api/v1/keys/{hash}."""
    state = request.app[STATE]
    _manager(request, state)
    state.keys.delete(request.match_info["hash"])
    return json_response({"deleted": True})


async def get_key_calls(request: web.Request) -> web.Response:
    """GET /_sim/keys: chat completions counted by key label (never a key)."""
    return json_response(request.app[STATE].keys.summary())


async def start_storm(request: web.Request) -> web.Response:
    """POST /_sim/keys/storm {"label": "sk-or-v1-0e6...1c96", "for_s": 5}: every
    call on that key answers 429 for that long."""
    body = await _json_object(request)
    label, for_s = body.get("label"), body.get("for_s")
    if (
        not isinstance(label, str)
        or not isinstance(for_s, int | float)
        or isinstance(for_s, bool)
        or not 0 < for_s <= _MAX_STORM_S
    ):
        raise SimError(400, 'Expected {"label": "<key label>", "for_s": <seconds>}')
    request.app[STATE].keys.storm(label, float(for_s))
    return json_response({"label": label, "for_s": for_s})


def add_key_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.post("/api/v1/keys", create_key),
            web.get("/api/v1/keys", list_keys),
            web.get("/api/v1/keys/{hash}", get_sub_key),
            web.patch("/api/v1/keys/{hash}", update_key),
            web.delete("/api/v1/keys/{hash}", delete_key),
            web.get("/_sim/keys", get_key_calls),
            web.post("/_sim/keys/storm", start_storm),
        ]
    )
