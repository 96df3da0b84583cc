"""A finished completion replayed as OpenAI-style server-sent events."""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

CONTENT_CHUNK_CHARS = 64


def _chunk(result: dict[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": result.get("id"),
        "object": "chat.completion.chunk",
        "created": result.get("created"),
        "model": result.get("model"),
        "provider": result.get("provider"),
        "choices": choices,
    }


def _delta(
    index: int, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish}


def completion_chunks(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Role chunk, content deltas, the finish chunk, then usage with no choices."""
    for choice in result.get("choices", []):
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        yield _chunk(result, [_delta(index, {"role": "assistant", "content": ""})])
        content = message.get("content") or ""
        for start in range(0, len(content), CONTENT_CHUNK_CHARS):
            piece = content[start : start + CONTENT_CHUNK_CHARS]
            yield _chunk(result, [_delta(index, {"content": piece})])
        if message.get("tool_calls"):
            yield _chunk(result, [_delta(index, {"tool_calls": message["tool_calls"]})])
        yield _chunk(result, [_delta(index, {}, choice.get("finish_reason") or "stop")])
    if result.get("usage") is not None:
        yield {**_chunk(result, []), "usage": result["usage"]}


async def sse_events(result: dict[str, Any]) -> AsyncIterator[bytes]:
    for chunk in completion_chunks(result):
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"
