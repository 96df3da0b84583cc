"""A prompts file as the batch JSONL the API takes.

Each non-blank line is a JSON object, one of:
- an OpenAI batch line `{"custom_id", "method", "url", "body"}`: sent as it is;
- a chat-completion body `{"messages": [...], "model": ..., ...}`: wrapped;
- `{"prompt": "text", ...}`: becomes one user message, other fields kept.
Wrapped lines keep their own `custom_id` or get `line-<N>` (N: the line number);
`model`, when given, fills `body.model` wherever a line names none.
"""

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shared.errors import InvalidRequest

CHAT_URL = "/v1/chat/completions"


def read_batch_lines(path: str, *, model: str | None) -> list[bytes]:
    """The file (`-`: stdin) converted, one encoded line per request."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from None
    lines = batch_lines(text.splitlines(), model=model)
    if not lines:
        raise InvalidRequest(f"{path} holds no requests")
    return lines


def batch_lines(lines: Iterable[str], *, model: str | None) -> list[bytes]:
    converted = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"line {number}: not JSON ({exc.msg})") from None
        item = to_batch_line(raw, number, model=model)
        converted.append(json.dumps(item, separators=(",", ":")).encode() + b"\n")
    return converted


def to_batch_line(raw: Any, number: int, *, model: str | None) -> dict[str, Any]:
    """One request in OpenAI's batch line shape."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"line {number}: expected a JSON object")
    if "body" in raw:
        line = dict(raw)
        line["body"] = _with_model(raw["body"], number, model)
        return line
    body = dict(raw)
    custom_id = body.pop("custom_id", None) or f"line-{number}"
    if "prompt" in body:
        prompt = body.pop("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequest(f"line {number}: prompt must be a non-empty string")
        body["messages"] = [{"role": "user", "content": prompt}]
    if "messages" not in body:
        raise InvalidRequest(
            f"line {number}: expected `messages`, `prompt` or a batch line with `body`"
        )
    return {
        "custom_id": str(custom_id),
        "method": "POST",
        "url": CHAT_URL,
        "body": _with_model(body, number, model),
    }


def _with_model(body: Any, number: int, model: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"line {number}: body must be a JSON object")
    if model and not body.get("model") and not body.get("models"):
        return {**body, "model": model}
    return body
