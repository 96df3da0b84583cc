"""The calls of jobs submitted with `stream: true`: streamed from OpenRouter, each
chunk relayed to the job's stream as it arrives (workers.jobs.live_streams), the
call cut off when the client leaves.

A cut-off call costs what the upstream generated until then. OpenRouter reports
no usage on a stream its client closed, so the usage kept is an estimate: the
prompt as routing estimates it, the characters generated at four to a token,
priced from the catalog, and the stored `usage` says `"is_estimate": true`.
"""

import asyncio
import functools
import json
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from shared.cost import estimated_cost_usd
from shared.job_streams import JobEnd
from shared.rate_limits import estimated_tokens
from shared.routing.catalog import ModelInfo
from workers.jobs.endings import Outcome, OutcomeKind
from workers.jobs.live_streams import ClientLeft, JobStreams
from workers.jobs.records import ClaimedJob
from workers.limits.client import CompletionClient
from workers.openrouter.schemas import Completion, JsonObject
from workers.openrouter.stream_assembly import StreamAssembly
from workers.openrouter.streaming import StreamedCall

CHARS_PER_TOKEN = 4
ROUTE_FIRST_TOKEN_TIMEOUT = "first_token_timeout_s"
ENDED = frozenset({OutcomeKind.SUCCEEDED, OutcomeKind.FAILED, OutcomeKind.CANCELLED})


class ClientCancelled(Exception):
    """The client left mid-call; `partial` is what the call produced, usage and
    cost reported or estimated."""

    def __init__(self, partial: Completion) -> None:
        super().__init__("the client closed the stream")
        self.partial = partial


def is_streamed(job: ClaimedJob) -> bool:
    """Whether the job was submitted with `stream: true`."""
    return job.request.get("stream") is True


class CatalogSource(Protocol):
    """What the cost estimate reads: the catalog's models by id."""

    async def get(self) -> Mapping[str, ModelInfo]: ...


@dataclass(frozen=True, slots=True)
class StreamingConfig:
    first_token_timeout_s: float


GenerationIds = Callable[[UUID, str], Coroutine[Any, Any, None]]


class StreamedCalls:
    """Makes a streaming job's call, relaying its chunks."""

    def __init__(
        self,
        *,
        client: CompletionClient,
        streams: JobStreams,
        config: StreamingConfig,
        catalog: CatalogSource,
        generation_ids: GenerationIds,
    ) -> None:
        self._client = client
        self.streams = streams
        self._config = config
        self._catalog = catalog
        self._generation_ids = generation_ids
        self._noting: set[asyncio.Task[None]] = set()

    async def complete(
        self, job: ClaimedJob, body: JsonObject, *, attempt_id: UUID
    ) -> Completion:
        """Stream one call; raises UpstreamError, or ClientCancelled once the
        client left (the call closed). The generation id goes onto the attempt's
        row as soon as it is known, beside the relay."""
        await self.streams.status(job.id, "running")
        call = StreamedCall(
            StreamAssembly(),
            started_s=time.monotonic(),
            on_generation_id=functools.partial(self._note, attempt_id),
        )
        work = self._client.stream(
            job.id,
            body,
            sink=self.streams.sink(job.id),
            call=call,
            first_token_timeout_s=self.first_token_timeout_s(job),
        )
        try:
            return await self.streams.until_client_leaves(job.id, work)
        except ClientLeft:
            chars = call.assembly.completion_chars
            partial = await self._with_usage(job, call.completion(), chars)
            raise ClientCancelled(partial) from None

    def _note(self, attempt_id: UUID, generation_id: str) -> None:
        # Not awaited on the relay's path: the first chunk goes on at once.
        task = asyncio.create_task(self._generation_ids(attempt_id, generation_id))
        self._noting.add(task)
        task.add_done_callback(self._noting.discard)

    async def announce(self, job: ClaimedJob, outcome: Outcome) -> None:
        """Tell the job's readers how its run ended: over (`end`, whose details
        are on the job's row), or back in the queue for a retry."""
        if outcome.kind in ENDED:
            await self.streams.end(job.id, JobEnd(status=outcome.kind.value))
        elif outcome.kind is OutcomeKind.RETRY:
            await self.streams.status(job.id, "queued")

    def first_token_timeout_s(self, job: ClaimedJob) -> float:
        """The request's own first-token timeout (`route.first_token_timeout_s`),
        else the worker's setting."""
        override = (job.route or {}).get(ROUTE_FIRST_TOKEN_TIMEOUT)
        if isinstance(override, int | float) and not isinstance(override, bool):
            return float(override)
        return self._config.first_token_timeout_s

    async def _with_usage(
        self, job: ClaimedJob, partial: Completion, generated_chars: int
    ) -> Completion:
        """`partial` with the usage it reported, else an estimate marked as such."""
        if partial.completion_tokens is not None:
            return partial
        prompt_tokens, _ = estimated_tokens(job.request)
        completion_tokens = math.ceil(generated_chars / CHARS_PER_TOKEN)
        model = partial.model or str(job.request.get("model"))
        info = (await self._catalog.get()).get(model)
        cost = (
            None
            if info is None
            else estimated_cost_usd(
                info, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        )
        usage: JsonObject = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": None if cost is None else float(cost),
            "is_estimate": True,
        }
        body = {**partial.body, "usage": usage}
        return Completion(
            body=body,
            body_json=json.dumps(body),
            http_status=partial.http_status,
            latency_ms=partial.latency_ms,
            generation_id=partial.generation_id,
            model=partial.model,
            provider=partial.provider,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=None,  # an estimate: the ledger marks it so (shared.cost)
            first_token_ms=partial.first_token_ms,
        )
