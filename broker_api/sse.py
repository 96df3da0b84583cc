"""Server-sent events in OpenAI/OpenRouter's format: a relayed chunk, the keep-alive
comment, the end, the mid-stream error event, and a finished completion replayed as
chunks."""

import json
from collections.abc import Iterator
from typing import Any

from broker_api.errors import DEFAULT_JOB_ERROR_STATUS, JOB_ERROR_STATUS
from broker_api.jobs.views import JobView

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"

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


def data_event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def error_event(job_id: str, code: str, message: str, status: int) -> bytes:
    """OpenRouter's mid-stream error event: `error` and `finish_reason: "error"`."""
    chunk = {
        "id": job_id,
        "object": "chat.completion.chunk",
        "error": {"code": status, "message": message, "metadata": {"code": code}},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
    return data_event(json.dumps(chunk).encode())


def ended_without_chunks(view: JobView) -> list[bytes]:
    """A job that ended before any chunk was relayed: its answer replayed, or its
    error as OpenRouter's mid-stream error event."""
    if view.status == "succeeded" and view.result is not None:
        result: dict[str, Any] = view.result
        events = [data_event(json.dumps(c).encode()) for c in completion_chunks(result)]
        return [*events, DONE]
    code = view.error.code if view.error else view.status
    message = view.error.message if view.error else f"the job is {view.status}"
    status = JOB_ERROR_STATUS.get(code, DEFAULT_JOB_ERROR_STATUS)
    return [error_event(str(view.id), code, message, status)]
