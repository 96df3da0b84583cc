"""A streamed answer put back together as the `chat.completion` body a
non-streaming call would have returned (pure).

Content and reasoning deltas are joined per choice; `tool_calls` deltas are merged
by their `index` (the first delta of a call carries its id and name, later ones
more of its arguments); the last `finish_reason` and the `usage` chunk are kept.
"""

import json
from dataclasses import dataclass, field
from typing import cast

from shared.cost import reported_cost_usd, usage_details
from workers.openrouter.schemas import Completion, JsonObject


@dataclass
class _ToolCall:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def body(self, index: int) -> JsonObject:
        function: JsonObject = {"name": self.name, "arguments": "".join(self.arguments)}
        return {"index": index, "id": self.id, "type": self.type, "function": function}


@dataclass
class _Choice:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None

    def add(self, delta: JsonObject) -> None:
        if isinstance(text := delta.get("content"), str):
            self.content.append(text)
        if isinstance(text := delta.get("reasoning"), str):
            self.reasoning.append(text)
        for call_delta in _dicts(delta.get("tool_calls")):
            self._add_call(call_delta)

    def _add_call(self, delta: JsonObject) -> None:
        index = delta.get("index")
        key = index if isinstance(index, int) else len(self.tool_calls)
        call = self.tool_calls.setdefault(key, _ToolCall())
        if isinstance(delta.get("id"), str):
            call.id = cast(str, delta["id"])
        if isinstance(delta.get("type"), str):
            call.type = cast(str, delta["type"])
        function = delta.get("function")
        if isinstance(function, dict):
            if isinstance(name := function.get("name"), str):
                call.name += name
            if isinstance(arguments := function.get("arguments"), str):
                call.arguments.append(arguments)

    def body(self, index: int) -> JsonObject:
        message: JsonObject = {"role": "assistant", "content": "".join(self.content)}
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [
                call.body(i) for i, call in sorted(self.tool_calls.items())
            ]
        return {"index": index, "message": message, "finish_reason": self.finish_reason}


class StreamAssembly:
    """The chunks of one streamed call so far."""

    def __init__(self) -> None:
        self._head: JsonObject = {}
        self._choices: dict[int, _Choice] = {}
        self.usage: JsonObject | None = None
        self.chunks = 0

    def add(self, chunk: JsonObject) -> None:
        """Fold one `chat.completion.chunk` in."""
        self.chunks += 1
        for name in ("id", "created", "model", "provider"):
            if name in chunk and name not in self._head:
                self._head[name] = chunk[name]
        for choice in _dicts(chunk.get("choices")):
            index = choice.get("index")
            state = self._choices.setdefault(
                index if isinstance(index, int) else 0, _Choice()
            )
            delta = choice.get("delta")
            if isinstance(delta, dict):
                state.add(delta)
            if isinstance(reason := choice.get("finish_reason"), str):
                state.finish_reason = reason
        if isinstance(usage := chunk.get("usage"), dict):
            self.usage = usage

    @property
    def completion_chars(self) -> int:
        """Characters of content, reasoning and tool arguments generated so far."""
        return sum(
            len("".join(c.content))
            + len("".join(c.reasoning))
            + sum(len("".join(t.arguments)) for t in c.tool_calls.values())
            for c in self._choices.values()
        )

    def body(self) -> JsonObject:
        """The `chat.completion` body of what arrived."""
        body: JsonObject = {**self._head, "object": "chat.completion"}
        body["choices"] = [c.body(i) for i, c in sorted(self._choices.items())]
        if self.usage is not None:
            body["usage"] = self.usage
        return body

    def completion(
        self, *, http_status: int, latency_ms: int, first_token_ms: int | None
    ) -> Completion:
        """The answer as the ledger keeps it."""
        body = self.body()
        usage = self.usage or {}
        return Completion(
            body=body,
            body_json=json.dumps(body),
            http_status=http_status,
            latency_ms=latency_ms,
            generation_id=_text(body.get("id")),
            model=_text(body.get("model")),
            provider=_text(body.get("provider")),
            prompt_tokens=_whole(usage.get("prompt_tokens")),
            completion_tokens=_whole(usage.get("completion_tokens")),
            cost_usd=reported_cost_usd(usage),
            first_token_ms=first_token_ms,
            details=usage_details(usage),
        )


def _dicts(value: object) -> list[JsonObject]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
