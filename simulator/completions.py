"""POST /api/v1/chat/completions: validate in OpenRouter's order, then serve.

Order, as OpenRouter checks: auth 401, params 400, credits 402, free-model limits 429,
then the upstream attempts with their scripted or random outcomes.
"""

import asyncio
import time

from aiohttp import web

from simulator.auth import authenticate
from simulator.billing import check_credits
from simulator.calls import received_ts
from simulator.chat_request import ChatRequest, parse_chat_request
from simulator.echoes import echo_error, echo_response
from simulator.errors import SimError, error_response, json_response
from simulator.failures import context_length_error, upstream_error
from simulator.pacing import generation_s
from simulator.payloads import completion_json, malformed_body
from simulator.replies import compose_reply
from simulator.routing import plan_attempts
from simulator.scripts import Behaviour, Effect, parse_behaviour
from simulator.state import STATE, SimulatorState
from simulator.streaming import stream_turn
from simulator.turns import (
    Turn,
    app_title,
    record_refusal,
    record_turn_refusal,
    settle,
    start_turn,
    turn_cost,
)

JOB_ID_HEADER = "X-Helixq-Job-Id"
BEHAVIOUR_HEADER = "X-Sim-Behaviour"


def _forced_behaviour(request: web.Request) -> Behaviour | None:
    """Read the per-request script from the X-Sim-Behaviour header."""
    name = request.headers.get(BEHAVIOUR_HEADER)
    if name is None:
        return None
    behaviour = parse_behaviour(name.strip().removeprefix("sim/"))
    if behaviour is None:
        raise SimError(400, f"{name} is not a simulator behaviour")
    return behaviour


def _preflight(chat: ChatRequest, state: SimulatorState) -> None:
    """Context window, credits (402) and free-model limits (429), in that order."""
    model = chat.primary
    if chat.prompt_tokens + (chat.max_output_tokens or 0) > model.context_length:
        raise context_length_error(chat, model)
    check_credits(
        model,
        prompt_tokens=chat.prompt_tokens,
        max_output_tokens=chat.max_output_tokens,
        settings=state.settings,
        spent=state.ledger.total,
        credits_added=state.ledger.credits_added,
    )
    if model.is_free:
        state.free_limits.admit(time.time())


async def create_completion(request: web.Request) -> web.StreamResponse:
    """Answer a chat completion, as JSON or as server-sent events."""
    state = request.app[STATE]
    job_id = request.headers.get(JOB_ID_HEADER)
    chat: ChatRequest | None = None
    key: str | None = None
    try:
        key = authenticate(request, state.settings)
        state.keys.admit(key)
        forced = _forced_behaviour(request)
        chat = parse_chat_request(
            await request.read(), state.catalog, state.settings, job_id=job_id
        )
        _preflight(chat, state)
    except SimError as error:
        model = None if chat is None else chat.primary
        record_refusal(
            state,
            error,
            model,
            job_id,
            app_title(request),
            received=received_ts(request),
        )
        if key is not None:
            state.keys.record(key, error.status)
        return error_response(error)
    sub_key = state.keys.sub_key_of(key)
    turn = start_turn(
        request,
        state,
        chat,
        plan_attempts(chat, state, forced),
        sub_key=None if sub_key is None else sub_key.hash,
    )
    response = await _serve(request, state, turn)
    state.keys.record(key, response.status)
    return response


def _cached_tokens(state: SimulatorState, turn: Turn) -> int:
    """Prompt tokens the serving model's provider had cached, if it caches."""
    if turn.model.prices.cache_read is None:
        return 0
    return state.prompt_cache.read(turn.model.id, turn.chat.messages)


async def _serve(
    request: web.Request, state: SimulatorState, turn: Turn
) -> web.StreamResponse:
    """Answer with the final attempt's outcome after the simulated latency."""
    final = turn.final
    if final.effect is Effect.ECHO:
        await asyncio.sleep(turn.latency_s)
        error = echo_error(final.status, request)
        record_turn_refusal(state, turn, error)
        return echo_response(error)
    if final.failure is not None:
        await asyncio.sleep(turn.latency_s)
        error = upstream_error(final.failure, turn.chat, final.model)
        record_turn_refusal(state, turn, error)
        return error_response(error)
    reply = compose_reply(
        turn.chat,
        final.model,
        state.settings.completion_tokens,
        cached_tokens=_cached_tokens(state, turn),
        is_broken=final.effect is Effect.BREAK,
    )
    if turn.chat.is_stream:
        return await stream_turn(request, state, turn, reply)
    await asyncio.sleep(turn.latency_s + generation_s(reply, state.settings))
    settle(state, turn, reply, is_streamed=False)
    headers = {"X-Generation-Id": turn.generation_id}
    if final.effect is Effect.BAD_JSON:
        return web.Response(
            body=malformed_body(turn), content_type="application/json", headers=headers
        )
    body = completion_json(turn, reply, turn_cost(turn, reply))
    return json_response(body, headers=headers)
