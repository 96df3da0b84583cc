"""The requests of a batch: checked at submit (400, 422) and read for validation.

Submit refuses what OpenRouter refuses synchronously: a missing or repeated
`custom_id`, a body that names another model, media the Batch API rejects. What
OpenRouter only finds while validating (`stream: true`, a bad `max_tokens`, an
empty or malformed chat) is kept as the line's problem: the batch is accepted with
202 and fails when validation ends.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.batches.batch import Line
from simulator.catalog import BATCH_SUFFIX, ModelEntry
from simulator.chat_request import parse_chat_request
from simulator.errors import SimError
from simulator.failures import context_length_error
from simulator.state import SimulatorState

_MEDIA_PARTS = frozenset({"input_audio", "file", "video_url", "input_video"})
_UNSUPPORTED_FIELDS = ("modalities", "audio", "image_config")
_MEDIA_RULE = (
    "Only public http(s) image URLs are supported in batch; base64/data-URI images, "
    "audio, video, and file content parts are rejected."
)
_IGNORED_IN_BATCH = ("stream", "models")  # one model per batch; never streamed


def _refused_part(part: object) -> str | None:
    """Name a content part the Batch API rejects, or None."""
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind in _MEDIA_PARTS:
        return str(kind)
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return "image_url"
    return None


def _check_content(body: Mapping[str, Any], number: int) -> None:
    """Raise the 422 for media or output modes batch does not take."""
    for name in _UNSUPPORTED_FIELDS:
        if name in body:
            raise SimError(
                422,
                f"Request at line {number} sets '{name}', which batch does not "
                "support; use the sync API.",
            )
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            refused = _refused_part(part)
            if refused is not None:
                raise SimError(
                    422,
                    f"Request at line {number} contains unsupported '{refused}' "
                    f"content. {_MEDIA_RULE}",
                )


def _check_model(body: Mapping[str, Any], batch_model: str, number: int) -> None:
    """A line may leave out `model` or repeat the batch's; nothing else."""
    model = body.get("model")
    if model is None:
        return
    base = batch_model.removesuffix(BATCH_SUFFIX)
    if model not in (base, base + BATCH_SUFFIX):
        raise SimError(
            400,
            f"Request at line {number}: model '{model}' does not match the batch "
            f"model '{batch_model}'.",
        )


def _max_tokens_below_one(body: Mapping[str, Any]) -> bool:
    values = (body.get("max_tokens"), body.get("max_completion_tokens"))
    return any(isinstance(value, int | float) and value < 1 for value in values)


def _read_line(
    custom_id: str, body: Mapping[str, Any], served: ModelEntry, state: SimulatorState
) -> Line:
    """Parse a line as a chat request, or keep what will fail its batch."""
    if body.get("stream") is True:
        return Line(
            custom_id,
            None,
            f"Request '{custom_id}': Batch requests do not support stream: true.",
        )
    if _max_tokens_below_one(body):
        return Line(
            custom_id, None, f"Request '{custom_id}' sets 'max_tokens' below 1."
        )
    chat_body = {k: v for k, v in body.items() if k not in _IGNORED_IN_BATCH}
    chat_body["model"] = served.id
    try:
        chat = parse_chat_request(
            json.dumps(chat_body).encode(),
            state.catalog,
            state.settings,
            job_id=custom_id,
        )
    except SimError as error:
        return Line(custom_id, None, f"Request '{custom_id}': {error.message}")
    if chat.prompt_tokens + (chat.max_output_tokens or 0) > served.context_length:
        message = context_length_error(chat, served).message
        return Line(custom_id, None, f"Request '{custom_id}': {message}")
    return Line(custom_id, chat)


def read_lines(
    requests: Sequence[object],
    *,
    batch_model: str,
    served: ModelEntry,
    state: SimulatorState,
) -> tuple[Line, ...]:
    """Check every request in order; raise the first synchronous refusal."""
    lines: list[Line] = []
    seen: set[str] = set()
    for number, item in enumerate(requests, start=1):
        if not isinstance(item, dict):
            raise SimError(400, f"Request at line {number} must be an object.")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str):
            raise SimError(
                400,
                f"Request at line {number}: custom_id: Invalid input: expected string",
            )
        if custom_id in seen:
            raise SimError(
                422,
                f"Request at line {number} has a duplicate custom_id '{custom_id}'",
            )
        seen.add(custom_id)
        body = item.get("body")
        if not isinstance(body, dict):
            raise SimError(400, f"Request at line {number}: body must be an object.")
        _check_model(body, batch_model, number)
        _check_content(body, number)
        lines.append(_read_line(custom_id, body, served, state))
    return tuple(lines)
