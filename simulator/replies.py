"""What a model answers, as the tokens it generates one after another.

A reply holds one choice per `n`; a choice is a few segments: reasoning first, then
the content or each tool call's arguments. A segment is generated a token (about
four characters) at a time: streams send a piece per chunk, JSON bodies carry the
whole text, and a client that leaves mid-stream is billed for the tokens generated
so far (`Reply.cut`).
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum

from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest
from simulator.reasoning import reasoning_tokens
from simulator.structured_output import OutputKind, structured_content
from simulator.tools import call_arguments, call_id

CHARS_PER_TOKEN = 4
_SEED_CHARS = 40
_FILLER = " The helixq simulator stands in for a real model here."
_THOUGHT = " It weighs one step, then the next."


class Part(Enum):
    """Which part of the message a segment belongs to."""

    REASONING = "reasoning"
    CONTENT = "content"
    TOOL = "tool"


@dataclass(frozen=True, slots=True)
class ToolCallHead:
    """What a tool call's first delta names: its id and function."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Piece:
    """About one token of a choice, as one stream chunk carries it."""

    part: Part
    text: str
    call: int = 0  # TOOL: the index of the call the arguments belong to
    is_first_of_call: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of one part: the reasoning, the content, or one call's arguments."""

    part: Part
    text: str
    call: int = 0

    @property
    def tokens(self) -> int:
        """Return its tokens; an empty text still takes one."""
        return max(math.ceil(len(self.text) / CHARS_PER_TOKEN), 1)

    def pieces(self) -> Iterator[Piece]:
        """Yield its token-sized pieces, in order."""
        for token in range(self.tokens):
            start = token * CHARS_PER_TOKEN
            text = self.text[start : start + CHARS_PER_TOKEN]
            yield Piece(self.part, text, self.call, is_first_of_call=token == 0)

    def cut(self, tokens: int) -> "Segment":
        """Keep only its first tokens."""
        return replace(self, text=self.text[: tokens * CHARS_PER_TOKEN])


@dataclass(frozen=True, slots=True)
class Choice:
    """One of the `n` answers: its segments, tool calls and finish reasons."""

    segments: tuple[Segment, ...]
    finish_reason: str
    native_finish_reason: str
    calls: tuple[ToolCallHead, ...] = ()
    is_reasoning_shown: bool = True

    @property
    def tokens(self) -> int:
        """Return the completion tokens, reasoning included."""
        return sum(segment.tokens for segment in self.segments)

    @property
    def reasoning_tokens(self) -> int:
        """Return the tokens spent reasoning, shown or not."""
        return sum(s.tokens for s in self.segments if s.part is Part.REASONING)

    def _text(self, part: Part) -> str:
        return "".join(s.text for s in self.segments if s.part is part)

    @property
    def reasoning(self) -> str | None:
        """Return the reasoning text the client sees, if any."""
        text = self._text(Part.REASONING)
        return text if text and self.is_reasoning_shown else None

    @property
    def content(self) -> str | None:
        """Return the content; None when the choice answers with tool calls."""
        return None if self.calls else self._text(Part.CONTENT)

    def tool_calls(self) -> Iterator[tuple[ToolCallHead, str]]:
        """Yield each tool call begun, with the arguments generated for it."""
        for segment in self.segments:
            if segment.part is Part.TOOL:
                yield self.calls[segment.call], segment.text

    def pieces(self) -> list[Piece]:
        """Every token-sized piece, in the order a stream sends them."""
        return [piece for segment in self.segments for piece in segment.pieces()]

    def cut(self, tokens: int) -> "Choice":
        """Keep the segments, or the part of one, that its first tokens make."""
        kept = []
        for segment in self.segments:
            if tokens <= 0:
                break
            kept.append(segment if segment.tokens <= tokens else segment.cut(tokens))
            tokens -= segment.tokens
        return replace(self, segments=tuple(kept))


@dataclass(frozen=True, slots=True)
class Reply:
    """Every choice of an answer, plus the prompt tokens read from the cache."""

    choices: tuple[Choice, ...]
    cached_tokens: int = 0

    @property
    def completion_tokens(self) -> int:
        """Return the tokens generated across the choices."""
        return sum(choice.tokens for choice in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        """Return the reasoning tokens across the choices."""
        return sum(choice.reasoning_tokens for choice in self.choices)

    @property
    def ticks(self) -> int:
        """Return the token intervals generation takes; choices run side by side."""
        return max(choice.tokens for choice in self.choices)

    @property
    def finish_reason(self) -> str:
        """Return the first choice's finish reason, which /generation reports."""
        return self.choices[0].finish_reason

    @property
    def native_finish_reason(self) -> str:
        """Return the first choice's native finish reason."""
        return self.choices[0].native_finish_reason

    def cut(self, ticks: int) -> "Reply":
        """Keep what was generated in the first `ticks` token intervals."""
        return replace(self, choices=tuple(c.cut(ticks) for c in self.choices))


def _text(opening: str, filler: str, chars: int) -> str:
    """Build exactly `chars` characters that start with the opening."""
    if len(opening) < chars:
        opening += filler * math.ceil((chars - len(opening)) / len(filler))
    return opening[:chars]


def _answer(
    chat: ChatRequest, index: int, default_tokens: int
) -> tuple[list[Segment], tuple[ToolCallHead, ...]]:
    """The segments after the reasoning: tool calls, JSON or plain text.

    Drawn values come from an RNG seeded by the prompt, the seed and the choice,
    so a repeated request gets the same answer.
    """
    label = "Simulated reply" if index == 0 else f"Simulated reply {index + 1}"
    opening = f"{label} to: {chat.last_user_text[:_SEED_CHARS]}"
    tools = chat.tool_use.tools_to_call(chat.messages)
    is_text = chat.output_format.kind is OutputKind.TEXT
    if is_text and not tools:
        text = _text(opening, _FILLER, default_tokens * CHARS_PER_TOKEN)
        return [Segment(Part.CONTENT, text)], ()
    rng = random.Random(f"{chat.prompt_digest}:{index}")
    if not tools:
        content = structured_content(chat.output_format, rng, opening)
        return [Segment(Part.CONTENT, content)], ()
    heads = tuple(ToolCallHead(call_id(rng), tool.name) for tool in tools)
    segments = [
        Segment(Part.TOOL, call_arguments(tool, rng), call)
        for call, tool in enumerate(tools)
    ]
    return segments, heads


def _reasoning(
    chat: ChatRequest, model: ModelEntry, default_tokens: int
) -> list[Segment]:
    """The reasoning, before the answer; none when the model does not reason."""
    limit = chat.max_output_tokens
    budget = limit if limit is not None else 2 * default_tokens
    tokens = reasoning_tokens(chat.reasoning, model, budget)
    if not tokens:
        return []
    opening = f"Thinking about: {chat.last_user_text[:_SEED_CHARS]}."
    return [Segment(Part.REASONING, _text(opening, _THOUGHT, tokens * CHARS_PER_TOKEN))]


def _choice(
    chat: ChatRequest,
    model: ModelEntry,
    index: int,
    default_tokens: int,
    *,
    is_broken: bool,
) -> Choice:
    """Compose one choice, cut short by max_tokens or a mid-stream failure."""
    answer, calls = _answer(chat, index, default_tokens)
    provider = model.provider
    finish_reason, native_reason = "stop", provider.stop_reason
    if calls:
        finish_reason, native_reason = "tool_calls", provider.tool_reason
    choice = Choice(
        tuple(_reasoning(chat, model, default_tokens) + answer),
        finish_reason,
        native_reason,
        calls=calls,
        is_reasoning_shown=not chat.reasoning.is_excluded,
    )
    limit = chat.max_output_tokens
    if limit is not None and choice.tokens > limit:
        choice = replace(
            choice.cut(limit),
            finish_reason="length",
            native_finish_reason=provider.length_reason,
        )
    if is_broken:
        choice = replace(
            choice.cut(max(choice.tokens // 2, 1)),
            finish_reason="error",
            native_finish_reason="error",
        )
    return choice


def compose_reply(
    chat: ChatRequest,
    model: ModelEntry,
    default_tokens: int,
    *,
    cached_tokens: int = 0,
    is_broken: bool = False,
) -> Reply:
    """Answer each of the `n` choices; plain text runs `default_tokens` tokens.

    A broken reply stops halfway with finish_reason "error", as when a provider
    fails after generation started.
    """
    choices = tuple(
        _choice(chat, model, index, default_tokens, is_broken=is_broken)
        for index in range(chat.n)
    )
    return Reply(choices, cached_tokens)
