"""The deterministic reply text and its token counts."""

import math
from dataclasses import dataclass, replace

from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest

CHARS_PER_TOKEN = 4
_SEED_CHARS = 40
_FILLER = " The helixq simulator stands in for a real model here."


@dataclass(frozen=True, slots=True)
class Reply:
    """What the model answers: text, completion tokens and finish reasons."""

    text: str
    completion_tokens: int
    finish_reason: str
    native_finish_reason: str

    def cut(self, chars: int) -> "Reply":
        """Keep only the first characters, as when the client went away."""
        tokens = math.ceil(chars / CHARS_PER_TOKEN)
        return replace(self, text=self.text[:chars], completion_tokens=tokens)


def _reply_text(seed: str, chars: int) -> str:
    """Build exactly `chars` characters that start by quoting the seed."""
    text = f"Simulated reply to: {seed[:_SEED_CHARS]}"
    if len(text) < chars:
        text += _FILLER * math.ceil((chars - len(text)) / len(_FILLER))
    return text[:chars]


def compose_reply(
    chat: ChatRequest, model: ModelEntry, default_tokens: int, *, is_broken: bool
) -> Reply:
    """Answer with `default_tokens` tokens, fewer when max_tokens cuts it short.

    A broken reply stops halfway with finish_reason "error", as when a provider
    fails after generation started.
    """
    limit = chat.max_output_tokens
    tokens = default_tokens if limit is None else min(limit, default_tokens)
    if is_broken:
        tokens = max(tokens // 2, 1)
        text = _reply_text(chat.last_user_text, tokens * CHARS_PER_TOKEN)
        return Reply(text, tokens, "error", "error")
    text = _reply_text(chat.last_user_text, tokens * CHARS_PER_TOKEN)
    if limit is not None and limit < default_tokens:
        return Reply(text, tokens, "length", model.provider.length_reason)
    return Reply(text, tokens, "stop", model.provider.stop_reason)
