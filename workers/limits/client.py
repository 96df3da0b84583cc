"""The OpenRouter client behind the limits: every call takes its tokens first,
settles the token estimate with the usage it reports, adds its cost to the job's
budget ticket, and an upstream 429 cools its model down for every worker."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from shared.cost import answered_cost
from workers.limits.gate import LimitsGate, Ticket
from workers.openrouter.errors import (
    UpstreamBudgetExhausted,
    UpstreamError,
    UpstreamForbidden,
    UpstreamPaymentRequired,
    UpstreamRateLimited,
)
from workers.openrouter.keys import UpstreamKey
from workers.openrouter.schemas import Completion, JsonObject
from workers.openrouter.streaming import ChunkSink, StreamedCall


class NoCapacity(UpstreamRateLimited):
    """No call was made: the model's tokens are further off than the horizon (or
    it is cooling down). Retryable after `retry_after_s`, like a 429."""

    code = "no_capacity"


class CompletionClient(Protocol):
    """What the completion loop needs of an OpenRouter client."""

    async def complete(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion: ...

    async def embed(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion: ...

    async def stream(
        self,
        job_id: UUID,
        body: JsonObject,
        *,
        sink: ChunkSink,
        call: StreamedCall,
        first_token_timeout_s: float,
        key: UpstreamKey | None = None,
    ) -> Completion: ...

    async def aclose(self) -> None: ...


class RateLimitedClient:
    """A CompletionClient that keeps calls inside the shared limits."""

    def __init__(self, inner: CompletionClient, gate: LimitsGate) -> None:
        self._inner = inner
        self._gate = gate

    async def complete(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion:
        """Wait for the call's tokens, make it, and account for it. A call whose
        tokens are further off than the horizon is not made: it fails as
        NoCapacity (an UpstreamRateLimited), retryable after the wait. The call
        goes out on the job's OpenRouter key (its ticket's), or `key` when given
        (a call made outside a job's admission)."""
        return await self._limited(
            job_id,
            body,
            lambda upstream: self._inner.complete(job_id, body, key=upstream),
            key=key,
        )

    async def embed(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion:
        """`complete`, for an embeddings request."""
        return await self._limited(
            job_id,
            body,
            lambda upstream: self._inner.embed(job_id, body, key=upstream),
            key=key,
        )

    async def stream(
        self,
        job_id: UUID,
        body: JsonObject,
        *,
        sink: ChunkSink,
        call: StreamedCall,
        first_token_timeout_s: float,
        key: UpstreamKey | None = None,
    ) -> Completion:
        """`complete`, streamed (CompletionClient.stream)."""
        return await self._limited(
            job_id,
            body,
            lambda upstream: self._inner.stream(
                job_id,
                body,
                sink=sink,
                call=call,
                first_token_timeout_s=first_token_timeout_s,
                key=upstream,
            ),
            key=key,
        )

    async def _limited(
        self,
        job_id: UUID,
        body: JsonObject,
        make_call: Callable[[UpstreamKey], Awaitable[Completion]],
        *,
        key: UpstreamKey | None,
    ) -> Completion:
        model = str(body.get("model"))
        ticket = self._gate.ticket_of(job_id)
        upstream = key or (
            self._gate.parts.keys.default if ticket is None else ticket.upstream
        )
        grant = await self._gate.take_for_call(ticket, model)
        if not grant.granted:
            raise NoCapacity(
                f"rate limit: no capacity for {model} for {grant.wait_s:.1f}s",
                retry_after_s=grant.wait_s,
            )
        await self._gate.wait(grant, model)
        try:
            completion = await make_call(upstream)
        except (UpstreamPaymentRequired, UpstreamForbidden) as error:
            if not upstream.is_provisioned:
                raise
            raise UpstreamBudgetExhausted(
                "the tenant's OpenRouter key is at its credit limit (the monthly "
                f"budget): {error.message}",
                http_status=error.http_status,
            ) from None
        except UpstreamError as error:
            if ticket is not None and error.cost_usd is not None:
                ticket.spent_usd += error.cost_usd
            if isinstance(error, UpstreamRateLimited):
                await self._gate.parts.limiter.cool_down(
                    model, retry_after_s=error.retry_after_s, upstream=upstream.scope
                )
            raise
        if ticket is not None:
            ticket.spent_usd += await self._ledger_cost(body, model, completion)
            await self._settle_tokens(ticket, model, completion)
        return completion

    async def _ledger_cost(
        self, body: JsonObject, model: str, completion: Completion
    ) -> Decimal:
        """What the budget counts for an answer: its reported cost, else the
        ledger's estimate (shared.cost), never a silent zero."""
        if completion.cost_usd is not None:
            return completion.cost_usd
        pricing, reserve = await self._gate.pricing(body, model)
        cost = answered_cost(
            None,
            model=pricing,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            reserve_usd=reserve,
        )
        return cost.usd or Decimal(0)

    async def _settle_tokens(
        self, ticket: Ticket, model: str, completion: Completion
    ) -> None:
        # The buckets took the estimate; what the call used is known now.
        if completion.prompt_tokens is None or completion.completion_tokens is None:
            return
        await self._gate.parts.limiter.settle_tokens(
            model,
            estimated=ticket.tokens,
            used=completion.prompt_tokens + completion.completion_tokens,
            tenant=ticket.tenant,
            tenant_table=ticket.limits.provider_table,
            upstream=ticket.upstream.scope,
        )

    async def aclose(self) -> None:
        """Close the wrapped client."""
        await self._inner.aclose()
