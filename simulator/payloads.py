"""Response bodies of /chat/completions, built as plain dicts (no validation)."""

from typing import Any

from simulator.billing import Cost, json_number
from simulator.failures import midstream_error
from simulator.replies import Choice, Reply
from simulator.turns import Turn


def head(turn: Turn, object_name: str) -> dict[str, Any]:
    """The fields every body and chunk starts with, in the captured order."""
    return {
        "id": turn.generation_id,
        "provider": turn.model.provider.name,
        "model": turn.model.id,
        "object": object_name,
        "created": turn.created,
    }


def broken_error(turn: Turn) -> dict[str, Any]:
    """The error of the provider that failed after generation started."""
    return midstream_error(turn.final.midstream_status or 502)


def reasoning_details(text: str) -> list[dict[str, Any]]:
    """Reasoning in the structured form that sits beside the `reasoning` string."""
    return [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]


def usage_json(prompt_tokens: int, reply: Reply, cost: Cost) -> dict[str, Any]:
    """The `usage` object, always present as in the current API."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": prompt_tokens + reply.completion_tokens,
        "cost": json_number(cost.total),
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": reply.cached_tokens,
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
            "reasoning_tokens": reply.reasoning_tokens,
            "image_tokens": 0,
            "audio_tokens": 0,
        },
    }


def _message_json(choice: Choice) -> dict[str, Any]:
    """The assistant message of one choice, tool calls and reasoning included."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": choice.content,
        "refusal": None,
        "reasoning": choice.reasoning,
    }
    if choice.reasoning:
        message["reasoning_details"] = reasoning_details(choice.reasoning)
    calls = [
        {
            "id": head.id,
            "type": "function",
            "function": {"name": head.name, "arguments": arguments},
        }
        for head, arguments in choice.tool_calls()
    ]
    if calls:
        message["tool_calls"] = calls
    return message


def choices_json(
    reply: Reply, *, error: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The `choices` of a non-streaming body, one per `n`; `error` goes on a choice
    that broke off mid-generation."""
    choices = []
    for index, choice in enumerate(reply.choices):
        body: dict[str, Any] = {
            "index": index,
            "logprobs": None,
            "finish_reason": choice.finish_reason,
            "native_finish_reason": choice.native_finish_reason,
            "message": _message_json(choice),
        }
        if choice.finish_reason == "error" and error is not None:
            body["error"] = error
        choices.append(body)
    return choices


def completion_json(turn: Turn, reply: Reply, cost: Cost) -> dict[str, Any]:
    """The non-streaming 200 body, one entry of `choices` per `n`."""
    body = head(turn, "chat.completion")
    body["choices"] = choices_json(reply, error=broken_error(turn))
    body["system_fingerprint"] = None
    body["usage"] = usage_json(turn.chat.prompt_tokens, reply, cost)
    return body


def malformed_body(turn: Turn) -> bytes:
    """A body cut off mid-JSON, as a misbehaving upstream might send."""
    return (
        f'{{"id": "{turn.generation_id}", "choices": [{{"message": {{"content'.encode()
    )
