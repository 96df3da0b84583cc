"""The Batch API's HTTP routes, under `/api/v1/batches` and `/api/beta/batches`.

OpenRouter's documents name both prefixes; both serve the same batches here.
"""

import time

from aiohttp import web

from simulator.auth import authenticate
from simulator.batches.batch import Batch
from simulator.batches.charges import check_submit_credits, collect
from simulator.batches.clock import BATCH_CLOCK
from simulator.batches.lifecycle import advance, open_batch, request_cancel
from simulator.batches.listing import parse_list_query, select
from simulator.batches.payloads import (
    batch_json,
    deletion_json,
    list_json,
    unpaid_json,
)
from simulator.batches.results import page_limit, results_page
from simulator.batches.submission import parse_submission
from simulator.errors import SimError, json_response
from simulator.state import STATE, SimulatorState

PREFIXES = ("/api/v1", "/api/beta")


def _not_found() -> web.Response:
    """The plain-text 404 OpenRouter answers for a route it does not have."""
    return web.Response(status=404, text="Not Found")


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    """Read the body past the app's usual cap, up to the Batch API's size limit."""
    too_large = SimError(413, f"A batch body holds at most {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _current(request: web.Request) -> tuple[SimulatorState, Batch]:
    """Authenticate, find the batch (404) and bring it up to date."""
    state = request.app[STATE]
    authenticate(request, state.settings)
    batch_id = request.match_info["batch_id"]
    batch = state.batches.get(batch_id)
    if batch is None:
        raise SimError(404, f"Batch {batch_id} not found")
    if advance(batch, time.time(), state):
        request.app[BATCH_CLOCK].wake()  # its callback is due
    return state, batch


async def create_batch(request: web.Request) -> web.Response:
    """POST /batches: check, store, answer 202 `validating`."""
    state = request.app[STATE]
    authenticate(request, state.settings)
    raw = await _read_body(request, state.settings.batch_max_bytes)
    submission = parse_submission(raw, state)
    check_submit_credits(state)
    batch = open_batch(submission, now=time.time(), state=state)
    state.batches.add(batch)
    request.app[BATCH_CLOCK].wake()
    if batch.fault.is_answer_lost and request.transport is not None:
        request.transport.abort()  # stored upstream, yet the client never hears
    return json_response(batch_json(batch, with_results=False), status=202)


async def get_batch(request: web.Request) -> web.Response:
    """GET /batches/{id}: the batch, with results inline once it has them."""
    state, batch = _current(request)
    if not collect(batch, state, time.time()):
        return json_response(unpaid_json(batch), status=402)
    inline = state.settings.batch_results != "paged"
    return json_response(batch_json(batch, with_results=inline))


async def list_batches(request: web.Request) -> web.Response:
    """GET /batches: newest first, `after=<last_id>` for the next page."""
    state = request.app[STATE]
    authenticate(request, state.settings)
    query = parse_list_query(
        request.query, request.query.getall("status", []), state.batches
    )
    now = time.time()
    for batch in state.batches.live():
        if advance(batch, now, state):
            request.app[BATCH_CLOCK].wake()
    page, has_more = select(state.batches, query)
    return json_response(list_json(page, has_more=has_more))


async def get_results(request: web.Request) -> web.Response:
    """GET /batches/{id}/results: one page of an ended batch's results."""
    if request.app[STATE].settings.batch_results == "inline":
        return _not_found()
    state, batch = _current(request)
    if not batch.status.is_terminal:
        raise SimError(
            409, f"Batch {batch.id} is {batch.status.value}; results come once it ends"
        )
    if not collect(batch, state, time.time()):
        return json_response(unpaid_json(batch), status=402)
    limit = page_limit(request.query.get("limit"))
    page = results_page(batch, limit=limit, cursor=request.query.get("cursor"))
    return json_response(page)


async def cancel_batch(request: web.Request) -> web.Response:
    """POST /batches/{id}/cancel: enabled, 403 or missing, as configured."""
    mode = request.app[STATE].settings.batch_cancel
    if mode == "404":
        return _not_found()
    state, batch = _current(request)
    if mode == "403":
        raise SimError(403, "Batch cancellation is not enabled for this organization.")
    if batch.status.is_terminal:
        raise SimError(
            409,
            f"Batch {batch.id} is already {batch.status.value} and cannot be cancelled",
        )
    request_cancel(batch, time.time(), state)
    request.app[BATCH_CLOCK].wake()
    return json_response(batch_json(batch, with_results=False))


async def delete_batch(request: web.Request) -> web.Response:
    """DELETE /batches/{id}: only once the batch has ended (else 409)."""
    state, batch = _current(request)
    if not batch.status.is_terminal:
        raise SimError(
            409,
            f"Batch {batch.id} is {batch.status.value}; only a batch in a terminal "
            "status (completed, failed, expired, cancelled) can be deleted",
        )
    state.batches.remove(batch.id)
    return json_response(deletion_json(batch))


def batch_routes() -> list[web.RouteDef]:
    """Every Batch API route, under both prefixes."""
    routes: list[web.RouteDef] = []
    for prefix in PREFIXES:
        base = f"{prefix}/batches"
        one = base + "/{batch_id}"
        routes += [
            web.post(base, create_batch),
            web.get(base, list_batches),
            web.get(one, get_batch),
            web.delete(one, delete_batch),
            web.post(one + "/cancel", cancel_batch),
            web.get(one + "/results", get_results),
        ]
    return routes
