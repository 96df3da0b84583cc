"""Builders with valid defaults: `make_job_body(model="sim/500")`."""

import uuid
from typing import Any


def make_messages(text: str | None = None) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text or f"Say hello ({uuid.uuid4().hex[:8]})"}]


def make_job_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "messages": make_messages(),
        "max_tokens": 16,
    }
    body.update(overrides)
    return body


def unique_name(prefix: str = "tenant") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
