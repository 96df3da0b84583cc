"""Response bodies of /chat/completions, built as plain dicts (no validation)."""

from typing import Any

from simulator.billing import Cost, json_number
from simulator.replies import Reply
from simulator.turns import Turn


def broken_error() -> dict[str, Any]:
    """The error a provider failing after generation started reports (§2.4, §3)."""
    return {
        "code": 502,
        "message": "Provider returned error",
        "metadata": {"error_type": "provider_unavailable"},
    }


def _head(turn: Turn, object_name: str) -> dict[str, Any]:
    """The fields every body and chunk starts with, in the captured order."""
    return {
        "id": turn.generation_id,
        "provider": turn.model.provider.name,
        "model": turn.model.id,
        "object": object_name,
        "created": turn.created,
    }


def usage_json(prompt_tokens: int, reply: Reply, cost: Cost) -> dict[str, Any]:
    """The `usage` object, always present as in the current API."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": prompt_tokens + reply.completion_tokens,
        "cost": json_number(cost.total),
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "audio_tokens": 0,
            "video_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": json_number(cost.total),
            "upstream_inference_prompt_cost": json_number(cost.prompt),
            "upstream_inference_completions_cost": json_number(cost.completion),
        },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "image_tokens": 0,
            "audio_tokens": 0,
        },
    }


def completion_json(turn: Turn, reply: Reply, cost: Cost) -> dict[str, Any]:
    """The non-streaming 200 body (reference §2.4)."""
    choice: dict[str, Any] = {
        "index": 0,
        "logprobs": None,
        "finish_reason": reply.finish_reason,
        "native_finish_reason": reply.native_finish_reason,
        "message": {
            "role": "assistant",
            "content": reply.text,
            "refusal": None,
            "reasoning": None,
        },
    }
    if reply.finish_reason == "error":
        choice["error"] = broken_error()
    body = _head(turn, "chat.completion")
    body["choices"] = [choice]
    body["system_fingerprint"] = None
    body["usage"] = usage_json(turn.chat.prompt_tokens, reply, cost)
    return body


def chunk_json(turn: Turn, content: str, reply: Reply | None = None) -> dict[str, Any]:
    """A streamed chunk; pass the reply to make it the finishing chunk."""
    chunk = _head(turn, "chat.completion.chunk")
    chunk["choices"] = [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": content},
            "finish_reason": None if reply is None else reply.finish_reason,
            "native_finish_reason": None
            if reply is None
            else reply.native_finish_reason,
            "logprobs": None,
        }
    ]
    chunk["system_fingerprint"] = None
    return chunk


def usage_chunk_json(turn: Turn, reply: Reply, cost: Cost) -> dict[str, Any]:
    """The last chunk before [DONE]: usage with an empty `choices`, as documented."""
    chunk = _head(turn, "chat.completion.chunk")
    chunk["choices"] = []
    chunk["usage"] = usage_json(turn.chat.prompt_tokens, reply, cost)
    return chunk


def error_chunk_json(turn: Turn) -> dict[str, Any]:
    """The mid-stream error event: top-level `error` and a terminating choice."""
    chunk = _head(turn, "chat.completion.chunk")
    chunk["error"] = broken_error()
    chunk["choices"] = [
        {
            "index": 0,
            "delta": {"content": ""},
            "finish_reason": "error",
            "native_finish_reason": "error",
        }
    ]
    return chunk


def malformed_body(turn: Turn) -> bytes:
    """A body cut off mid-JSON, as a misbehaving upstream might send."""
    return (
        f'{{"id": "{turn.generation_id}", "choices": [{{"message": {{"content'.encode()
    )
