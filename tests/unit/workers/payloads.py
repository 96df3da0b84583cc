"""OpenRouter bodies shaped like those OpenRouter sends (ids, fields, `usage.cost`)."""

from typing import Any

GENERATION_ID = "gen-1758261701-ssNGmJgP76WrsuQysdBk"


def completion_body(**overrides: Any) -> dict[str, Any]:
    """A 200 chat-completion body."""
    body: dict[str, Any] = {
        "id": GENERATION_ID,
        "provider": "OpenAI",
        "model": "openai/gpt-4o-mini",
        "object": "chat.completion",
        "created": 1758261701,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "native_finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hello."},
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "cost": 0.0000036,
        },
    }
    body.update(overrides)
    return body


def error_body(code: int, message: str, **metadata: Any) -> dict[str, Any]:
    """OpenRouter's error envelope."""
    error: dict[str, Any] = {"code": code, "message": message}
    if metadata:
        error["metadata"] = metadata
    return {"error": error, "user_id": "user_test"}
