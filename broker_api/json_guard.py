"""Refuse JSON bodies the rest of the stack cannot carry, before anything parses them.

Python's `json` accepts NaN and Infinity, reads `1e400` as infinity, refuses
integers past 4300 digits with a bare ValueError and recurses without a depth
limit, and Postgres JSONB refuses NaN, infinity, `\\u0000` and lone surrogates:
each of those used to end in a 500 deep in a transaction. Every JSON the API takes
(request bodies, inline batches, each JSONL line) goes through `check_json`. The
check works on the raw bytes with C-speed regexes, so even a 200 MB inline batch
costs one pass, not a second parse.
"""

import json
import math
import re
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

from broker_api.asgi import ASGIApp, Message, Receive, Scope, Send, send_error
from shared.errors import (
    BrokerError,
    InvalidJson,
    JsonTooDeep,
    NotUtf8,
    NumberOutOfRange,
    UnsupportedMediaType,
)

MAX_JSON_DEPTH = 64
# Python's default limit for reading an integer (sys.int_info), so `json.loads`
# never meets a longer one.
MAX_INTEGER_DIGITS = 4300
JSON_TYPES = ["application/json"]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# A JSON string literal, escapes included (the unrolled form never backtracks).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NON_FINITE = re.compile(rb"NaN|Infinity")
# An escape preceded by an even number of backslashes is a real escape.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")
# Numbers that may not fit a double: those with an exponent, and those with more
# integer digits than the largest double (309). A match starts only at a number's
# first digit (a digit not after a digit or a point; testing that after the digit
# lets the engine skip to digits), and possessive quantifiers never backtrack, so
# long digit runs cost one pass.
_LARGE_NUMBER = re.compile(
    rb"[0-9](?<![0-9.][0-9])"
    rb"(?:[0-9]{308,}+(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
    rb"|[0-9]*+(?:\.[0-9]++)?+[eE][+-]?+[0-9]++)"
)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def check_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InvalidJson (or a subclass) when `body` holds something JSONB or our
    parser would choke on; malformed JSON is left to the parser's own error."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(exc.start) from None
    outside_strings = _STRING.sub(b'""', body)
    if _NON_FINITE.search(outside_strings):
        raise InvalidJson("NaN and Infinity are not JSON: send a finite number or null")
    _check_numbers(outside_strings)
    brackets = outside_strings.translate(None, _BRACKETS)
    if brackets and max(accumulate(_STEP[b] for b in brackets)) > max_depth:
        raise JsonTooDeep(max_depth)
    if _NUL_ESCAPE.search(body):
        raise InvalidJson("strings may not contain NUL (\\u0000)")
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(body):
        raise InvalidJson("strings may not contain unpaired UTF-16 surrogates")


def _check_numbers(outside_strings: bytes) -> None:
    for match in _LARGE_NUMBER.finditer(outside_strings):
        number = match[0]
        shown = number.decode() if len(number) <= 40 else f"{number[:20].decode()}…"
        if number.isdigit():
            if len(number) > MAX_INTEGER_DIGITS:
                raise NumberOutOfRange(
                    f"an integer of {len(number)} digits is longer than the "
                    f"{MAX_INTEGER_DIGITS} accepted: send it as a string",
                    number=shown,
                )
        elif math.isinf(float(number)):
            raise NumberOutOfRange(
                f"the number {shown} is beyond a 64-bit float (about 1.8e308): "
                "send a smaller number or a string",
                number=shown,
            )


def _has_lone_surrogate(body: bytes) -> bool:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return False  # malformed: the parser's own error says so
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonGuardMiddleware:
    """Checks JSON bodies with `check_json`, and answers 415 when an operation whose
    documented body is JSON only gets another content type (FastAPI would say 422).
    Which operations those are comes from the app's OpenAPI schema, the contract
    clients see; routes accepting several types (batches) check their own."""

    def __init__(self, app: ASGIApp, *, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._openapi = openapi
        self._json_only: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = _header(scope, b"content-type")
        if not is_json_type(content_type):
            if self._takes_json_only(scope["method"], scope["path"]):
                await send_error(send, UnsupportedMediaType(content_type, JSON_TYPES))
                return
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer(receive)
        try:
            check_json(body)
        except BrokerError as exc:
            await send_error(send, exc)
            return
        await self.app(scope, replay, send)

    def _takes_json_only(self, method: str, path: str) -> bool:
        if self._json_only is None:
            self._json_only = list(json_only_operations(self._openapi()))
        return any(
            method == wanted and pattern.fullmatch(path)
            for wanted, pattern in self._json_only
        )


def json_only_operations(
    schema: dict[str, Any],
) -> Iterator[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every operation whose body is JSON and only JSON."""
    for template, operations in schema.get("paths", {}).items():
        pattern = re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)))
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if content and all(is_json_type(kind) for kind in content):
                yield method.upper(), pattern


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body, and a `receive` that hands it over again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""
