"""The chunks of a streamed completion (`chat.completion.chunk`), as SSE events.

Every chunk repeats the id, provider, model and creation time; they are encoded once
per stream, since a stream sends a chunk per token. Content and reasoning deltas
repeat the role, as OpenRouter's captured streams do; a tool call's first delta
names its id and function, later ones add arguments, and each carries its index.
"""

import json
from typing import Any

from simulator.billing import Cost
from simulator.payloads import broken_error, head, reasoning_details, usage_json
from simulator.replies import Choice, Part, Piece, Reply
from simulator.turns import Turn

DONE = b"data: [DONE]\n\n"
_CLOSING = b', "system_fingerprint": null}\n\n'


def event(payload: dict[str, Any]) -> bytes:
    """One `data:` event carrying a JSON payload."""
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _choice(
    index: int, delta: dict[str, Any], finish: Choice | None = None
) -> dict[str, Any]:
    return {
        "index": index,
        "delta": delta,
        "finish_reason": None if finish is None else finish.finish_reason,
        "native_finish_reason": None if finish is None else finish.native_finish_reason,
        "logprobs": None,
    }


def _delta(choice: Choice, piece: Piece) -> dict[str, Any]:
    """The delta that carries one piece."""
    if piece.part is Part.CONTENT:
        return {"role": "assistant", "content": piece.text}
    if piece.part is Part.REASONING:
        return {
            "role": "assistant",
            "content": "",
            "reasoning": piece.text,
            "reasoning_details": reasoning_details(piece.text),
        }
    call: dict[str, Any] = {"index": piece.call, "type": "function"}
    function: dict[str, Any] = {"arguments": piece.text}
    if piece.is_first_of_call:
        call["id"] = choice.calls[piece.call].id
        function = {"name": choice.calls[piece.call].name, **function}
    call["function"] = function
    return {"role": "assistant", "content": None, "tool_calls": [call]}


class ChunkEncoder:
    """Encodes the events of one stream."""

    def __init__(self, turn: Turn) -> None:
        self._turn = turn
        opening = json.dumps(head(turn, "chat.completion.chunk"))[:-1]
        self._prefix = f'data: {opening}, "choices": '.encode()

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        return self._prefix + json.dumps(choices).encode() + _CLOSING

    def role(self, reply: Reply) -> bytes:
        """The first chunk: every choice opens with the assistant role."""
        return self._chunk(
            [
                _choice(index, {"role": "assistant", "content": ""})
                for index in range(len(reply.choices))
            ]
        )

    def piece(self, index: int, choice: Choice, piece: Piece) -> bytes | None:
        """The chunk of one piece of choice `index`; None for hidden reasoning."""
        if piece.part is Part.REASONING and not choice.is_reasoning_shown:
            return None
        return self._chunk([_choice(index, _delta(choice, piece))])

    def finish(self, index: int, choice: Choice) -> bytes:
        """The chunk that ends a choice with its finish reasons."""
        delta = {"role": "assistant", "content": ""}
        return self._chunk([_choice(index, delta, choice)])

    def usage(self, reply: Reply, cost: Cost) -> bytes:
        """The last chunk before [DONE]: usage, with an empty `choices`."""
        chunk = head(self._turn, "chat.completion.chunk")
        chunk["choices"] = []
        chunk["usage"] = usage_json(self._turn.chat.prompt_tokens, reply, cost)
        return event(chunk)

    def error(self, reply: Reply) -> bytes:
        """The mid-stream error event: top-level `error`, every choice ended."""
        chunk = head(self._turn, "chat.completion.chunk")
        chunk["error"] = broken_error(self._turn)
        chunk["choices"] = [
            {
                "index": index,
                "delta": {"content": ""},
                "finish_reason": "error",
                "native_finish_reason": "error",
            }
            for index in range(len(reply.choices))
        ]
        return event(chunk)
