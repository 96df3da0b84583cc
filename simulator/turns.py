"""A Turn is one completion being served; settling it bills and records it."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from simulator.auth import bearer_key
from simulator.billing import Cost, price_usage
from simulator.calls import Call, received_ts
from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest
from simulator.errors import SimError
from simulator.generations import (
    Generation,
    ProviderAttempt,
    new_generation_id,
    upstream_id,
)
from simulator.ledger import Usage
from simulator.replies import Reply
from simulator.routing import Attempt
from simulator.state import SimulatorState


@dataclass(frozen=True, slots=True)
class Turn:
    """A request that reached a provider: its attempts and the ids issued."""

    chat: ChatRequest
    attempts: tuple[Attempt, ...]
    generation_id: str
    created: int  # unix seconds
    started_s: float  # monotonic
    received_ts: float  # unix seconds: when the request arrived
    http_referer: str | None = None
    user_agent: str | None = None
    app: str | None = None
    sub_key: str | None = None  # the hash of the provisioned key it was made with
    key: str | None = None  # the key that pays for it

    @property
    def final(self) -> Attempt:
        """Return the attempt whose outcome the client sees."""
        return self.attempts[-1]

    @property
    def model(self) -> ModelEntry:
        """Return the model that served (or last failed) the request."""
        return self.final.model

    @property
    def latency_s(self) -> float:
        """Return the simulated time of every attempt together."""
        return sum(attempt.latency_s for attempt in self.attempts)


def start_turn(
    request: web.Request,
    state: SimulatorState,
    chat: ChatRequest,
    attempts: tuple[Attempt, ...],
    *,
    sub_key: str | None = None,
) -> Turn:
    """Open a turn, issuing its generation id."""
    now_s = time.time()
    return Turn(
        chat=chat,
        attempts=attempts,
        generation_id=new_generation_id(state.ids, now_s),
        created=int(now_s),
        started_s=time.monotonic(),
        received_ts=received_ts(request),
        http_referer=request.headers.get("HTTP-Referer"),
        user_agent=request.headers.get("User-Agent"),
        app=app_title(request),
        sub_key=sub_key,
        key=bearer_key(request),
    )


def app_title(request: web.Request) -> str | None:
    """The calling app's name, as OpenRouter's app attribution reads it."""
    return request.headers.get("X-OpenRouter-Title") or request.headers.get("X-Title")


def turn_cost(turn: Turn, reply: Reply) -> Cost:
    """Price a reply at the serving model's prices."""
    return price_usage(
        turn.model.prices,
        turn.chat.prompt_tokens,
        reply.completion_tokens,
        reply.cached_tokens,
    )


def _generation(
    turn: Turn, reply: Reply, *, is_streamed: bool, is_cancelled: bool
) -> Generation:
    """Describe a settled turn for GET /generation."""
    attempts = tuple(
        ProviderAttempt(
            id=upstream_id(turn.generation_id, index),
            model_permaslug=attempt.model.canonical_slug,
            provider_name=attempt.model.provider.name,
            status=attempt.status,
            latency_ms=round(attempt.latency_s * 1000),
        )
        for index, attempt in enumerate(turn.attempts)
    )
    return Generation(
        id=turn.generation_id,
        model=turn.model.id,
        provider_name=turn.model.provider.name,
        created_at=datetime.fromtimestamp(turn.created, UTC),
        latency_ms=round((time.monotonic() - turn.started_s) * 1000),
        tokens_prompt=turn.chat.prompt_tokens,
        tokens_completion=reply.completion_tokens,
        tokens_reasoning=reply.reasoning_tokens,
        tokens_cached=reply.cached_tokens,
        cost_usd=turn_cost(turn, reply).total,
        finish_reason=reply.finish_reason,
        native_finish_reason=reply.native_finish_reason,
        is_streamed=is_streamed,
        is_cancelled=is_cancelled,
        attempts=attempts,
        router=turn.chat.router,
        external_user=turn.chat.user,
        http_referer=turn.http_referer,
        user_agent=turn.user_agent,
    )


def settle(
    state: SimulatorState,
    turn: Turn,
    reply: Reply,
    *,
    is_streamed: bool,
    is_cancelled: bool = False,
) -> None:
    """Charge the reply, keep its generation and log the call as a 200."""
    generation = _generation(
        turn, reply, is_streamed=is_streamed, is_cancelled=is_cancelled
    )
    state.ledger.charge(
        generation.cost_usd,
        generation.created_at.date(),
        model=generation.model,
        key=turn.key,
        usage=Usage(
            prompt_tokens=generation.tokens_prompt,
            completion_tokens=generation.tokens_completion,
            reasoning_tokens=generation.tokens_reasoning,
        ),
    )
    if turn.sub_key is not None:
        state.keys.charge(
            turn.sub_key, generation.cost_usd, generation.created_at.date()
        )
    state.generations.add(generation, time.monotonic())
    state.calls.record(
        Call(
            ts=time.time(),
            received_ts=turn.received_ts,
            model=turn.model.id,
            provider=turn.model.provider.name,
            status=200,
            job_id=turn.chat.job_id,
            generation_id=turn.generation_id,
            app=turn.app,
            streamed=is_streamed,
            cancelled=is_cancelled,
            completion_tokens=reply.completion_tokens,
            first_token_ts=_first_token_ts(turn) if is_streamed else None,
            cost_usd=str(generation.cost_usd),
        )
    )


def _first_token_ts(turn: Turn) -> float:
    """When the turn's first token was due, on the wall clock."""
    due_in_s = turn.started_s + turn.latency_s - time.monotonic()
    return time.time() + due_in_s


def record_refusal(
    state: SimulatorState,
    error: SimError,
    model: ModelEntry | None,
    job_id: str | None,
    app: str | None,
    *,
    received: float,
) -> None:
    """Log a call answered with an error status (`received`: when it arrived)."""
    state.calls.record(
        Call(
            ts=time.time(),
            received_ts=received,
            model=None if model is None else model.id,
            provider=None if model is None else model.provider.name,
            status=error.status,
            job_id=job_id,
            generation_id=None,
            app=app,
        )
    )


def record_turn_refusal(state: SimulatorState, turn: Turn, error: SimError) -> None:
    """Log a turn answered with an error status."""
    record_refusal(
        state,
        error,
        turn.final.model,
        turn.chat.job_id,
        turn.app,
        received=turn.received_ts,
    )
