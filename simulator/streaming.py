"""Server-sent events for `stream: true`, in the order OpenRouter sends them.

`: OPENROUTER PROCESSING` until the first token (simulator.pacing), then the role
chunk, a chunk per token per choice, a finish chunk per choice, the usage chunk
with empty `choices`, and `[DONE]`. A broken reply ends with the mid-stream error
event instead, and no `[DONE]`. A client that leaves is billed for the tokens
generated until then, and its call is logged as cancelled.
"""

import asyncio
import time
from dataclasses import dataclass

from aiohttp import web

from simulator.chunks import DONE, ChunkEncoder
from simulator.pacing import Pacer
from simulator.payloads import malformed_body
from simulator.replies import Piece, Reply
from simulator.scripts import Effect
from simulator.state import SimulatorState
from simulator.turns import Turn, settle, turn_cost


@dataclass
class _Progress:
    """Token intervals generated so far, to bill a cancelled stream."""

    ticks: int = 0


def _tick_events(
    encoder: ChunkEncoder, reply: Reply, pieces: list[list[Piece]], tick: int
) -> list[bytes]:
    """The chunks of every choice that has a piece to show at this tick."""
    events = []
    for index, choice in enumerate(reply.choices):
        if tick < len(pieces[index]):
            chunk = encoder.piece(index, choice, pieces[index][tick])
            if chunk is not None:
                events.append(chunk)
    return events


def _closing_events(encoder: ChunkEncoder, turn: Turn, reply: Reply) -> list[bytes]:
    """Finish chunks, usage and [DONE]; or the error event of a broken reply."""
    if reply.finish_reason == "error":
        return [encoder.error(reply)]
    events = [encoder.finish(i, choice) for i, choice in enumerate(reply.choices)]
    events.append(encoder.usage(reply, turn_cost(turn, reply)))
    events.append(DONE)
    return events


async def _send_tokens(
    response: web.StreamResponse,
    pacer: Pacer,
    turn: Turn,
    reply: Reply,
    progress: _Progress,
) -> None:
    """Write each tick's chunks when it comes; ticks already due go in one write."""
    encoder = ChunkEncoder(turn)
    first_token_s = turn.started_s + turn.latency_s
    pieces = [choice.pieces() for choice in reply.choices]
    pending: list[bytes] = []
    has_shown = False
    for tick in range(reply.ticks):
        deadline_s = first_token_s + tick * pacer.token_interval_s
        if deadline_s > time.monotonic():
            if pending:
                await response.write(b"".join(pending))
                pending = []
            await pacer.wait_until(deadline_s, is_thinking=not has_shown)
        progress.ticks = tick + 1
        events = _tick_events(encoder, reply, pieces, tick)
        if events and not has_shown:
            events.insert(0, encoder.role(reply))
            has_shown = True
        pending += events
    if not has_shown:
        pending.insert(0, encoder.role(reply))
    await response.write(b"".join(pending + _closing_events(encoder, turn, reply)))


async def stream_turn(
    request: web.Request, state: SimulatorState, turn: Turn, reply: Reply
) -> web.StreamResponse:
    """Stream a turn; a client that goes away is billed for what was generated."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Generation-Id": turn.generation_id,
        }
    )
    await response.prepare(request)
    pacer = Pacer(request, response, state.settings)
    progress = _Progress()
    try:
        await pacer.comment()
        if turn.final.effect is Effect.BAD_JSON:
            await pacer.wait_until(turn.started_s + turn.latency_s, is_thinking=True)
            await response.write(b"data: " + malformed_body(turn) + b"\n\n")
        else:
            await _send_tokens(response, pacer, turn, reply, progress)
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
    """Bill only the tokens generated before the client went away."""
    settle(state, turn, reply.cut(progress.ticks), is_streamed=True, is_cancelled=True)
