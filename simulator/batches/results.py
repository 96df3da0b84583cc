"""What the provider made of each line: result entries, usage, and result pages."""

import base64
import binascii
import random
from dataclasses import dataclass, field
from typing import Any

from simulator.batches.batch import Batch, Line, Usage
from simulator.batches.query_params import int_param, is_count
from simulator.billing import Cost, price_usage
from simulator.chat_request import ChatRequest
from simulator.errors import SimError
from simulator.payloads import choices_json, usage_json
from simulator.replies import Reply, compose_reply
from simulator.state import SimulatorState

MAX_PAGE = 1000
DEFAULT_PAGE = 100
_LINE_ERROR = {
    "message": "The provider failed to process this request.",
    "param": None,
    "type": "server_error",
    "error_type": "provider_unavailable",
}
_BILLING_KEYS = ("cost", "is_byok", "cost_details")


@dataclass(slots=True)
class LineRun:
    """The outcome of the lines a provider finished."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    succeeded: int = 0
    failed: int = 0


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _body(
    batch: Batch,
    prompt_tokens: int,
    reply: Reply,
    cost: Cost,
    *,
    at: float,
    state: SimulatorState,
) -> dict[str, Any]:
    """The `chat.completion` a line answers with."""
    usage = usage_json(prompt_tokens, reply, cost)
    if not state.settings.batch_line_cost:
        for key in _BILLING_KEYS:
            usage.pop(key)
    return {
        "id": f"gen-batch-{int(at)}-{_hex(state.ids, 20)}",
        "provider": batch.served.provider.name,
        "model": batch.served.id,
        "object": "chat.completion",
        "created": int(at),
        "choices": choices_json(reply),
        "system_fingerprint": None,
        "usage": usage,
    }


def _fails(batch: Batch, index: int, line: Line, state: SimulatorState) -> bool:
    rate = state.settings.batch_line_failure_rate
    if batch.fault.fails_line(index, line.custom_id):
        return True
    return rate > 0 and state.rng.random() < rate


def _answer(
    batch: Batch, chat: ChatRequest, *, at: float, state: SimulatorState, run: LineRun
) -> dict[str, Any]:
    """Serve one line, adding its tokens and cost to the run."""
    reply = compose_reply(
        chat, batch.served, state.settings.completion_tokens, is_broken=False
    )
    # Batch prices: the `:batch` entry's, about half the realtime ones.
    cost = price_usage(
        batch.variant.prices, chat.prompt_tokens, reply.completion_tokens
    )
    body = _body(batch, chat.prompt_tokens, reply, cost, at=at, state=state)
    run.usage.prompt_tokens += chat.prompt_tokens
    run.usage.completion_tokens += reply.completion_tokens
    run.usage.cost += cost.total
    run.succeeded += 1
    request_id = f"req-{_hex(state.ids, 20)}"
    return {"status_code": 200, "request_id": request_id, "body": body}


def run_lines(batch: Batch, count: int, *, at: float, state: SimulatorState) -> LineRun:
    """Answer the first `count` lines; entries come back in no particular order."""
    run = LineRun()
    for index, line in enumerate(batch.lines[:count]):
        entry: dict[str, Any] = {
            "id": f"batch_req_{_hex(state.ids, 24)}",
            "custom_id": line.custom_id,
        }
        if line.chat is None or _fails(batch, index, line, state):
            entry.update(response=None, error=dict(_LINE_ERROR))
            run.failed += 1
        else:
            response = _answer(batch, line.chat, at=at, state=state, run=run)
            entry.update(response=response, error=None)
        run.entries.append(entry)
    random.Random(batch.id).shuffle(run.entries)  # clients must join on custom_id
    return run


def _cursor(batch: Batch, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{batch.id}:{offset}".encode()).decode()


def _offset(batch: Batch, cursor: str | None, size: int) -> int:
    """Read a cursor this batch handed out; raise 400 for any other."""
    if cursor is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    batch_id, _, offset = decoded.rpartition(":")
    if batch_id != batch.id or not is_count(offset) or int(offset) > size:
        raise SimError(400, "cursor is not a next_cursor of this batch's results")
    return int(offset)


def page_limit(raw: str | None) -> int:
    """Read `limit` (1..1000) of a results page."""
    return int_param("limit", raw, low=1, high=MAX_PAGE, default=DEFAULT_PAGE)


def results_page(batch: Batch, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of an ended batch's results; the same cursor gives the same page."""
    entries = batch.results or []
    start = _offset(batch, cursor, len(entries))
    end = min(start + limit, len(entries))
    has_more = end < len(entries)
    return {
        "object": "list",
        "data": entries[start:end],
        "has_more": has_more,
        "next_cursor": _cursor(batch, end) if has_more else None,
    }
