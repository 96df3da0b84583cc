"""Parse and validate a chat completion request the way OpenRouter answers 400s."""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from shared.routing.features import estimate_prompt_tokens, message_text
from simulator.catalog import AUTO_ROUTER, Catalog, ModelEntry
from simulator.errors import SimError
from simulator.reasoning import ReasoningAsk, parse_reasoning
from simulator.settings import SimulatorSettings
from simulator.structured_output import OutputFormat, parse_response_format
from simulator.tools import ToolUse, parse_tool_use

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_RANGES = MappingProxyType(
    {
        "temperature": (0, 2),
        "top_p": (0, 1),
        "top_k": (0, math.inf),
        "frequency_penalty": (-2, 2),
        "presence_penalty": (-2, 2),
        "repetition_penalty": (0, 2),
        "min_p": (0, 1),
        "top_a": (0, 1),
        "top_logprobs": (0, 20),
    }
)
Message = Mapping[str, Any]
MAX_CHOICES = 128

BATCH_ONLY_MESSAGE = (
    "This model is only available through the Batch API. "
    "Use the /api/beta/batches endpoint instead."
)


@dataclass(frozen=True)
class ChatRequest:
    """A validated request: candidate models in order and what the reply needs."""

    candidates: tuple[ModelEntry, ...]
    messages: Sequence[Message]
    is_stream: bool
    max_output_tokens: int | None
    prompt_tokens: int
    router: str | None = None
    user: str | None = None
    job_id: str | None = None
    n: int = 1
    seed: int | None = None
    tool_use: ToolUse = field(default_factory=ToolUse)
    output_format: OutputFormat = field(default_factory=OutputFormat)
    reasoning: ReasoningAsk = field(default_factory=ReasoningAsk)

    @property
    def primary(self) -> ModelEntry:
        """Return the model tried first."""
        return self.candidates[0]

    @cached_property
    def fingerprint(self) -> str:
        """Identify the request across retries: the job id, else the messages' hash."""
        if self.job_id:
            return self.job_id
        canonical = json.dumps(self.messages, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @cached_property
    def prompt_digest(self) -> str:
        """Identify the prompt and seed: equal requests draw equal replies."""
        canonical = json.dumps(
            [self.seed, self.messages], sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def last_user_text(self) -> str:
        """Return the text of the last user message, the seed of the reply."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message_text(message.get("content"))
        return ""


def _bad_request(message: str) -> SimError:
    return SimError(400, message)


def _decode(raw: bytes) -> dict[str, Any]:
    """Parse the body as a JSON object."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad_request("Invalid JSON in request body") from None
    if not isinstance(body, dict):
        raise _bad_request("Request body must be a JSON object")
    return body


def _messages(body: Mapping[str, Any]) -> list[Message]:
    """Return the messages, accepting the legacy `prompt` string too."""
    messages = body.get("messages")
    if messages is None and isinstance(body.get("prompt"), str):
        return [{"role": "user", "content": body["prompt"]}]
    if not isinstance(messages, list) or not messages:
        raise _bad_request('Input required: specify "prompt" or "messages"')
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _bad_request(
                f"messages[{index}].role must be one of {sorted(_ROLES)}"
            )
        if not isinstance(message.get("content"), str | list | None):
            raise _bad_request(f"messages[{index}].content must be a string or parts")
    return messages


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_ranges(body: Mapping[str, Any]) -> None:
    """Reject sampling parameters outside OpenRouter's documented ranges."""
    for name, (low, high) in _RANGES.items():
        value = body.get(name)
        if value is not None and not (_is_number(value) and low <= value <= high):
            bounds = (
                f"at least {low}" if high == math.inf else f"between {low} and {high}"
            )
            raise _bad_request(f"{name} must be a number {bounds}")


def _max_output_tokens(body: Mapping[str, Any]) -> int | None:
    """Return the output cap; `max_completion_tokens` wins over `max_tokens`."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _bad_request(f"{name} must be an integer of at least 1")
        return value
    return None


def _whole_number(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise _bad_request(f"{name} must be an integer")
    return value


def _choice_count(body: Mapping[str, Any]) -> int:
    """Return `n`, how many choices to generate."""
    n = body.get("n", 1)
    is_whole = isinstance(n, int) and not isinstance(n, bool)
    if not is_whole or not 1 <= n <= MAX_CHOICES:
        raise _bad_request(f"n must be an integer between 1 and {MAX_CHOICES}")
    return int(n)


def _model_ids(body: Mapping[str, Any], default_model: str) -> list[str]:
    """List the requested ids in try order: `model`, then the `models` fallbacks."""
    model, fallbacks = body.get("model"), body.get("models") or []
    if model is not None and not isinstance(model, str):
        raise _bad_request("model must be a string")
    if not isinstance(fallbacks, list) or not all(
        isinstance(item, str) for item in fallbacks
    ):
        raise _bad_request("models must be an array of model IDs")
    ids = [model] if model else []
    ids += [item for item in fallbacks if item not in ids]
    return ids or [default_model]


def _candidates(
    ids: list[str], catalog: Catalog, settings: SimulatorSettings
) -> tuple[tuple[ModelEntry, ...], str | None]:
    """Resolve ids to models; `openrouter/auto` routes to a real model."""
    entries: list[ModelEntry] = []
    router = None
    for model_id in ids:
        entry = catalog.find(model_id)
        if entry is None:
            raise _bad_request(f"{model_id} is not a valid model ID")
        if entry.is_batch_only:
            raise SimError(404, BATCH_ONLY_MESSAGE)
        if entry.id == AUTO_ROUTER:
            router = AUTO_ROUTER
            entry = catalog.find(settings.auto_router_model) or entry
        entries.append(entry)
    return tuple(entries), router


def parse_chat_request(
    raw: bytes, catalog: Catalog, settings: SimulatorSettings, *, job_id: str | None
) -> ChatRequest:
    """Validate a request body; raise SimError(400) as OpenRouter would."""
    body = _decode(raw)
    messages = _messages(body)
    _check_ranges(body)
    max_output = _max_output_tokens(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad_request("stream must be a boolean")
    candidates, router = _candidates(
        _model_ids(body, settings.default_model), catalog, settings
    )
    user = body.get("user")
    return ChatRequest(
        candidates=candidates,
        messages=messages,
        is_stream=stream,
        max_output_tokens=max_output,
        # The broker's rule of thumb stands in for a provider's tokenizer.
        prompt_tokens=estimate_prompt_tokens(list(messages)),
        router=router,
        user=user if isinstance(user, str) else None,
        job_id=job_id,
        n=_choice_count(body),
        seed=_whole_number(body, "seed"),
        tool_use=parse_tool_use(body),
        output_format=parse_response_format(body.get("response_format")),
        reasoning=parse_reasoning(body),
    )
