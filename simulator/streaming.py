"""Server-sent events for `stream: true`, in the order OpenRouter sends them.

`: OPENROUTER PROCESSING`, then (after the latency) the role chunk, content
deltas, the finish chunk, the usage chunk with empty `choices`, and `[DONE]`.
A broken reply ends with the mid-stream error event instead, and no `[DONE]`.
"""

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simulator.payloads import (
    chunk_json,
    error_chunk_json,
    malformed_body,
    usage_chunk_json,
)
from simulator.replies import Reply
from simulator.scripts import Effect
from simulator.state import SimulatorState
from simulator.turns import Turn, settle, turn_cost

PROCESSING = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
_DELTAS = 4


@dataclass
class _Progress:
    """Characters of content already sent, to bill a cancelled stream."""

    chars: int = 0


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _pieces(text: str) -> list[str]:
    """Split the reply into a few deltas."""
    size = max(math.ceil(len(text) / _DELTAS), 1)
    return [text[start : start + size] for start in range(0, len(text), size)]


async def _send_events(
    response: web.StreamResponse, turn: Turn, reply: Reply, progress: _Progress
) -> None:
    """Write every event after the processing comment."""
    if turn.final.effect is Effect.BAD_JSON:
        await response.write(b"data: " + malformed_body(turn) + b"\n\n")
        return
    await response.write(_event(chunk_json(turn, "")))
    for piece in _pieces(reply.text):
        await response.write(_event(chunk_json(turn, piece)))
        progress.chars += len(piece)
    if reply.finish_reason == "error":
        await response.write(_event(error_chunk_json(turn)))
        return
    await response.write(_event(chunk_json(turn, "", reply)))
    await response.write(_event(usage_chunk_json(turn, reply, turn_cost(turn, reply))))
    await response.write(DONE)


async def stream_turn(
    request: web.Request, state: SimulatorState, turn: Turn, reply: Reply
) -> web.StreamResponse:
    """Stream a turn; a client that goes away is billed for what it received."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Generation-Id": turn.generation_id,
        }
    )
    await response.prepare(request)
    progress = _Progress()
    try:
        await response.write(PROCESSING)
        await asyncio.sleep(turn.latency_s)
        await _send_events(response, turn, reply, progress)
    except asyncio.CancelledError:
        _settle_cancelled(state, turn, reply, progress)
        raise
    except ConnectionResetError:
        _settle_cancelled(state, turn, reply, progress)
        return response
    settle(state, turn, reply, is_streamed=True)
    return response


def _settle_cancelled(
    state: SimulatorState, turn: Turn, reply: Reply, progress: _Progress
) -> None:
    """Bill only the content sent before the client went away."""
    sent = reply.cut(progress.chars)
    settle(state, turn, sent, is_streamed=True, is_cancelled=True)
