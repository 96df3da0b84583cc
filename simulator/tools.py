"""Function tools: read `tools` and `tool_choice`, decide which tools a reply calls.

The model calls a tool unless the last message is a tool's result (then it answers
in text, as an agent loop expects) or `tool_choice` is "none"; "required" and a
named function always call. It calls the first tool, the named one, or every tool
with `parallel_tool_calls: true`.
"""

import json
import random
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.errors import SimError
from simulator.schema_instances import SchemaError, build_instance

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CHOICE_WORDS = ("none", "auto", "required")
_ID_CHARS = string.ascii_letters + string.digits
_ID_LENGTH = 24


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A declared function: its name and the JSON schema of its arguments."""

    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The tools a request offers and how it lets the model use them."""

    tools: tuple[FunctionTool, ...] = ()
    choice: str = "auto"  # none, auto, required, or "function" with `named`
    named: str | None = None
    is_parallel: bool = False

    def tools_to_call(
        self, messages: Sequence[Mapping[str, Any]]
    ) -> tuple[FunctionTool, ...]:
        """Return the tools the reply calls; none when it answers in text."""
        if not self.tools or self.choice == "none":
            return ()
        if self.named is not None:
            return tuple(tool for tool in self.tools if tool.name == self.named)
        is_answering_a_result = bool(messages) and messages[-1].get("role") == "tool"
        if self.choice == "auto" and is_answering_a_result:
            return ()
        return self.tools if self.is_parallel else self.tools[:1]


NO_TOOLS = ToolUse()
_TOOL_FIELDS = frozenset({"tools", "tool_choice", "parallel_tool_calls"})


def call_id(rng: random.Random) -> str:
    """Issue a tool call id shaped like the providers': `call_<24 alnum>`."""
    return "call_" + "".join(rng.choices(_ID_CHARS, k=_ID_LENGTH))


def call_arguments(tool: FunctionTool, rng: random.Random) -> str:
    """Arguments that validate against the tool's parameters, as compact JSON."""
    return json.dumps(build_instance(tool.parameters, rng), separators=(",", ":"))


def _bad(message: str) -> SimError:
    return SimError(400, message)


def _tool(index: int, raw: object) -> FunctionTool:
    """Validate one `tools` entry."""
    where = f"tools[{index}]"
    if not isinstance(raw, dict) or raw.get("type") != "function":
        raise _bad(f'{where} must be an object with "type": "function"')
    function = raw.get("function")
    if not isinstance(function, dict):
        raise _bad(f"{where}.function must be an object with a name")
    name = function.get("name")
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise _bad(f"{where}.function.name must be 1 to 64 letters, digits, _ or -")
    parameters = function.get("parameters", {"type": "object", "properties": {}})
    try:
        build_instance(parameters, random.Random(0))
    except SchemaError as error:
        raise _bad(f"{where}.function.parameters: {error}") from None
    return FunctionTool(name, parameters)


def _choice(raw: object, tools: tuple[FunctionTool, ...]) -> tuple[str, str | None]:
    """Validate `tool_choice`: a word, or a function that `tools` declares."""
    if raw is None:
        return "auto", None
    if not tools and raw != "none":
        raise _bad("tool_choice needs tools: declare the functions in `tools`")
    if raw in _CHOICE_WORDS:
        return str(raw), None
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise _bad(
            'tool_choice must be "none", "auto", "required" or '
            '{"type": "function", "function": {"name": ...}}'
        )
    if name not in {tool.name for tool in tools}:
        raise _bad(f"tool_choice names {name}, which is not among the tools")
    return "function", name


def parse_tool_use(body: Mapping[str, Any]) -> ToolUse:
    """Read `tools`, `tool_choice` and `parallel_tool_calls`; raise SimError(400)."""
    if not _TOOL_FIELDS.intersection(body):
        return NO_TOOLS
    raw_tools = body.get("tools")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise _bad("tools must be an array of function tools")
    tools = tuple(_tool(index, raw) for index, raw in enumerate(raw_tools or []))
    choice, named = _choice(body.get("tool_choice"), tools)
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _bad("parallel_tool_calls must be a boolean")
    return ToolUse(tools, choice, named, is_parallel=parallel is True)
