"""Batch controls under /_sim/batches (not part of OpenRouter; no auth).

- `POST /_sim/batches/script {"model", "batches": [fault, ...]}`: faults for the
  model's next batches (see simulator.batches.faults for their form).
- `POST /_sim/batches/{id}/fault {fault}`: change a live batch's fault.
- `POST /_sim/batches/{id}/advance {"until": "in_progress"}`: fast-forward a batch
  to its next step, or (without `until`) to its end.
- `GET /_sim/batches/submissions[?detail=1]`: lines submitted per custom_id, the
  custom_ids submitted more than once, and the USD billed for batches.
- `GET /_sim/batches/callbacks`: every callback and how its attempts went.
"""

import json
import time
from typing import Any

from aiohttp import web

from simulator.batches.batch import Batch, BatchStatus
from simulator.batches.clock import BATCH_CLOCK
from simulator.batches.faults import parse_fault
from simulator.batches.lifecycle import advance, fast_forward
from simulator.batches.payloads import batch_json
from simulator.catalog import BATCH_SUFFIX
from simulator.errors import SimError, json_response
from simulator.state import STATE, SimulatorState

_TRUE_WORDS = frozenset({"1", "true", "yes"})
_STEPS = {"in_progress": BatchStatus.IN_PROGRESS, "end": None}


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise SimError(400, "Invalid JSON in request body") from None
    if not isinstance(body, dict):
        raise SimError(400, "Request body must be a JSON object")
    return body


def _live_batch(request: web.Request) -> tuple[SimulatorState, Batch]:
    """The batch named in the path, brought up to date (404 when unknown)."""
    state = request.app[STATE]
    batch_id = request.match_info["batch_id"]
    batch = state.batches.get(batch_id)
    if batch is None:
        raise SimError(404, f"Batch {batch_id} not found")
    advance(batch, time.time(), state)
    return state, batch


async def queue_batch_script(request: web.Request) -> web.Response:
    """POST /_sim/batches/script: faults for a model's next batches."""
    state = request.app[STATE]
    body = await _json_body(request)
    model_id, faults = body.get("model"), body.get("batches")
    if not isinstance(model_id, str) or not isinstance(faults, list):
        raise SimError(400, 'Expected {"model": "...", "batches": [...]}')
    served = state.catalog.find(model_id.removesuffix(BATCH_SUFFIX))
    if served is None or state.catalog.find(served.id + BATCH_SUFFIX) is None:
        raise SimError(400, f"Model '{model_id}' does not have a :batch endpoint.")
    pending = state.batches.faults.queue(served.id, [parse_fault(f) for f in faults])
    return json_response({"model": served.id, "queued": pending})


async def set_batch_fault(request: web.Request) -> web.Response:
    """POST /_sim/batches/{id}/fault: what goes wrong with a live batch."""
    fault = parse_fault(await _json_body(request))
    _, batch = _live_batch(request)
    if batch.status.is_terminal:
        raise SimError(409, f"Batch {batch.id} is already {batch.status.value}")
    batch.fault = fault
    request.app[BATCH_CLOCK].wake()
    return json_response(batch_json(batch, with_results=False))


async def advance_batch(request: web.Request) -> web.Response:
    """POST /_sim/batches/{id}/advance: fast-forward to the next step or the end."""
    until = (await _json_body(request)).get("until", "end")
    if not isinstance(until, str) or until not in _STEPS:
        raise SimError(400, f"until must be one of {sorted(_STEPS)}")
    state, batch = _live_batch(request)
    fast_forward(batch, time.time(), state, until=_STEPS[until])
    request.app[BATCH_CLOCK].wake()
    with_results = state.settings.batch_results != "paged" and not batch.is_unpaid
    return json_response(batch_json(batch, with_results=with_results))


async def get_submissions(request: web.Request) -> web.Response:
    """GET /_sim/batches/submissions: counts per custom_id and USD billed."""
    with_counts = request.query.get("detail", "").lower() in _TRUE_WORDS
    summary = request.app[STATE].batches.submission_summary(with_counts=with_counts)
    return json_response(summary)


async def get_callbacks(request: web.Request) -> web.Response:
    """GET /_sim/batches/callbacks: every callback posted, oldest first."""
    deliveries = request.app[STATE].batches.deliveries
    return json_response({"deliveries": [d.as_json() for d in deliveries]})


def batch_control_routes() -> list[web.RouteDef]:
    """The /_sim/batches routes."""
    return [
        web.post("/_sim/batches/script", queue_batch_script),
        web.get("/_sim/batches/submissions", get_submissions),
        web.get("/_sim/batches/callbacks", get_callbacks),
        web.post("/_sim/batches/{batch_id}/fault", set_batch_fault),
        web.post("/_sim/batches/{batch_id}/advance", advance_batch),
    ]
