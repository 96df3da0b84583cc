"""Test and benchmark control under /_sim/ (not part of OpenRouter; no auth)."""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from simulator.billing import json_number
from simulator.catalog import AUTO_ROUTER
from simulator.errors import SimError, json_response
from simulator.scripts import Behaviour, behaviour_for_status, parse_behaviour
from simulator.state import STATE, SimulatorState

_TRUE_WORDS = frozenset({"1", "true", "yes"})
_MAX_TOP_UP_USD = Decimal(1_000_000_000)


async def get_health(_request: web.Request) -> web.Response:
    """GET /_sim/health: the simulator is up."""
    return json_response({"status": "ok"})


async def get_calls(request: web.Request) -> web.Response:
    """GET /_sim/calls[?detail=1]: counts by status, job and model (and the calls)."""
    with_calls = request.query.get("detail", "").lower() in _TRUE_WORDS
    return json_response(request.app[STATE].calls.summary(with_calls=with_calls))


async def reset(request: web.Request) -> web.Response:
    """POST /_sim/reset: forget calls, generations, spend, scripts and counters."""
    request.app[STATE].reset()
    return json_response({"status": "reset"})


def _behaviour(item: object) -> Behaviour:
    """Read one scripted response: a status (200 = normal) or a behaviour name."""
    behaviour = None
    if isinstance(item, int) and not isinstance(item, bool):
        behaviour = behaviour_for_status(item)
    elif isinstance(item, str):
        behaviour = parse_behaviour(item.removeprefix("sim/"))
    if behaviour is None:
        raise SimError(400, f"{item!r} is not a status or simulator behaviour")
    return behaviour


def _scripted_model_id(body: dict[str, Any], state: SimulatorState) -> str:
    """Resolve the model a script is for to the id attempts are made with."""
    model_id = body.get("model")
    model = state.catalog.find(model_id) if isinstance(model_id, str) else None
    if model is None:
        raise SimError(400, f"{model_id} is not a valid model ID")
    if model.id == AUTO_ROUTER:
        return state.settings.auto_router_model
    return model.id


async def queue_script(request: web.Request) -> web.Response:
    """POST /_sim/script {"model", "responses": [429, 500, 200, "bad-json"]}."""
    state = request.app[STATE]
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise SimError(400, "Invalid JSON in request body") from None
    if not isinstance(body, dict) or not isinstance(body.get("responses"), list):
        raise SimError(400, 'Expected {"model": "...", "responses": [...]}')
    model_id = _scripted_model_id(body, state)
    behaviours = [_behaviour(item) for item in body["responses"]]
    pending = state.scripts.queue(model_id, behaviours)
    return json_response({"model": model_id, "queued": pending})


def _credit_amount(body: object) -> Decimal:
    """Read `{"usd": "10"}`: a positive amount, small enough to stay a JSON number."""
    raw = body.get("usd") if isinstance(body, dict) else None
    is_number = isinstance(raw, str | int | float) and not isinstance(raw, bool)
    try:
        amount = Decimal(str(raw)) if is_number else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 < amount <= _MAX_TOP_UP_USD:
        raise SimError(
            400, f'Expected {{"usd": "<an amount above 0, at most {_MAX_TOP_UP_USD}>"}}'
        )
    return amount


async def add_credits(request: web.Request) -> web.Response:
    """POST /_sim/credits {"usd": "10"}: buy credits; batches locked by 402 unlock."""
    state = request.app[STATE]
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise SimError(400, "Invalid JSON in request body") from None
    state.ledger.add_credits(_credit_amount(body))
    total = state.settings.credits_usd + state.ledger.credits_added
    return json_response({"data": {"total_credits": json_number(total)}})
