"""The hot path: `POST /v1/jobs`, `GET /v1/jobs/{id}` and `POST /v1/chat/completions`
answered in plain ASGI, in front of FastAPI's request machinery.

FastAPI's routing, dependency solving, response re-validation and middleware
layers cost several times the work of accepting a job, so requests to these
routes that will be accepted are answered here, through the same use cases
(broker_api.jobs.service) and with the same bytes the routes would send.

Only requests that can be answered exactly so are taken: a JSON body of a
declared length within the limit that passes the JSON guard and its schema,
and a valid API key. Anything else (a missing or bad key, a body the schema or
the guard refuses, another content type, a chunked or streamed request, a query
this path does not read) goes on, untouched and with its body replayed, to the
FastAPI routes, which answer it with their own errors; nothing has been done on
its behalf before. Errors of the use cases themselves (an unknown model, a
quota, Postgres out of reach) are answered by broker_api.errors.reply_for, as the
routes' exception handlers answer them.
"""

import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from pydantic import BaseModel, ValidationError
from starlette.datastructures import State

from broker_api.asgi import ASGIApp, Message, Receive, Scope, Send
from broker_api.chat.routes import failure_of
from broker_api.deps import IDEMPOTENCY_KEY_MAX_CHARS, Caller, authenticate
from broker_api.errors import error_body, reply_for
from broker_api.jobs import service
from broker_api.json_guard import check_json, is_json_type
from broker_api.key_access import takes_hot_path
from broker_api.quotas import check_submit_quotas
from broker_api.webhooks.service import check_webhook_url
from shared.errors import BrokerError, Unauthenticated
from shared.logging_setup import log_context
from shared.schemas import ChatCompletionCreate, JobCreate
from shared.webhooks.addresses import system_resolver

_JOB_PATH = re.compile(r"/v1/jobs/([0-9a-fA-F-]{36})")
Headers = dict[bytes, bytes]


class Answer:
    """A JSON answer, rendered as FastAPI's JSONResponse renders it."""

    def __init__(
        self, status: int, content: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
        self.headers = headers or {}

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send(
            {"type": "http.response.start", "status": self.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def _model_answer(status: int, view: BaseModel, **headers: str) -> Answer:
    return Answer(status, view.model_dump(mode="json", by_alias=True), headers)


class HotPath:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == "/v1/jobs":
                return await self._post(scope, receive, send, JobCreate, _submit)
            if method == "POST" and path == "/v1/chat/completions":
                return await self._post(
                    scope, receive, send, ChatCompletionCreate, _chat
                )
            if method == "GET" and (match := _JOB_PATH.fullmatch(path)):
                return await self._get_job(scope, receive, send, match[1])
        await self.app(scope, receive, send)

    async def _post(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        schema: type[BaseModel],
        handle: Callable[[State, Caller, Any, Headers], Awaitable[Answer | None]],
    ) -> None:
        headers = dict(scope["headers"])
        length = _content_length(headers)
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if (
            not is_json_type(content_type)
            or length is None
            or length > self.max_body_bytes
        ):
            return await self.app(scope, receive, send)
        body, more = await _read_body(receive)
        replay = _replaying(body, more, receive)
        state: State = scope["app"].state
        try:
            caller = await _caller(state, headers, scope) if not more else None
        except Exception as exc:  # Postgres away: a 503, as the routes answer
            return await _error_answer(exc, scope).send(send)
        if caller is None:
            return await self.app(scope, replay, send)
        try:
            check_json(body)
            request = schema.model_validate_json(body)
        except (BrokerError, ValidationError, ValueError):
            return await self.app(scope, replay, send)
        with log_context(tenant=caller.slug):
            try:
                answer = await handle(state, caller, request, headers)
            except Exception as exc:
                answer = _error_answer(exc, scope)
        if answer is None:  # not for this path after all (a streamed completion)
            return await self.app(scope, replay, send)
        await answer.send(send)

    async def _get_job(
        self, scope: Scope, receive: Receive, send: Send, raw_id: str
    ) -> None:
        wait = _wait_of(scope.get("query_string", b""))
        job_id = _uuid(raw_id)
        if wait is None or job_id is None:
            return await self.app(scope, receive, send)
        state: State = scope["app"].state
        try:
            caller = await _caller(state, dict(scope["headers"]), scope)
        except Exception as exc:  # Postgres away: a 503, as the routes answer
            return await _error_answer(exc, scope).send(send)
        if caller is None:
            return await self.app(scope, receive, send)
        with log_context(tenant=caller.slug, job_id=job_id):
            try:
                view = await service.wait_for_job(
                    state.pool,
                    state.waiters,
                    caller,
                    job_id,
                    wait_s=min(wait, state.settings.helixq_long_poll_max_s),
                )
                answer = _model_answer(200, view)
            except Exception as exc:
                answer = _error_answer(exc, scope)
        await answer.send(send)


async def _submit(
    state: State, caller: Caller, request: JobCreate, headers: Headers
) -> Answer | None:
    """What the jobs route does, in its order: quotas, catalog, webhook, submit."""
    key = _idempotency_key(headers)
    if key == "":
        return None  # out of the header's bounds: the route says why
    await check_submit_quotas(state.redis, state.sessions, caller)
    catalog_ids = await state.catalog_ids.get(state.sessions)
    if request.webhook_url:
        await check_webhook_url(
            request.webhook_url,
            allow_private=state.settings.helixq_webhook_allow_private,
            resolve=system_resolver,
        )
    accepted = await service.submit_job(
        state.job_writer,
        state.enqueuer,
        caller,
        request,
        idempotency_key=key,
        catalog_ids=catalog_ids,
    )
    return _model_answer(202, accepted, Location=f"/v1/jobs/{accepted.id}")


async def _chat(
    state: State, caller: Caller, request: ChatCompletionCreate, headers: Headers
) -> Answer | None:
    """What the chat route does for a completion that is not streamed."""
    key = _idempotency_key(headers)
    if request.stream or key == "":
        return None  # streamed as server-sent events, or refused, by the route
    await check_submit_quotas(state.redis, state.sessions, caller)
    catalog_ids = await state.catalog_ids.get(state.sessions)
    view = await service.submit_and_wait(
        state.job_writer,
        state.enqueuer,
        state.waiters,
        caller,
        request.as_job(),
        wait_s=state.settings.helixq_sync_timeout_s,
        catalog_ids=catalog_ids,
        idempotency_key=key,
    )
    job_header = {"X-Helixq-Job-Id": str(view.id)}
    if view.status == "succeeded" and view.result is not None:
        return Answer(200, view.result, job_header)
    status, code, message = failure_of(view)
    return Answer(status, error_body(code, message), job_header)


def _error_answer(exc: Exception, scope: Scope) -> Answer:
    reply = reply_for(exc, scope["method"], scope["path"])
    return Answer(reply.status, reply.body, reply.headers)


async def _caller(state: State, headers: Headers, scope: Scope) -> Caller | None:
    """The tenant of a valid `Authorization: Bearer` key that may take this path;
    None for anything else (the routes then refuse it, counting the failure
    against the address, or check the key's scope and rate)."""
    scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not key:
        return None
    try:
        caller = await authenticate(state.pool, state.key_cache, key)
    except Unauthenticated:
        return None
    return caller if takes_hot_path(caller, scope["method"], scope["path"]) else None


def _idempotency_key(headers: Headers) -> str | None:
    """The header's value; "" when it is out of the route's bounds."""
    raw = headers.get(b"idempotency-key")
    if raw is None:
        return None
    key = raw.decode("latin-1")
    return key if 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_CHARS else ""


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


def _content_length(headers: Headers) -> int | None:
    raw = headers.get(b"content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


def _wait_of(query: bytes) -> float | None:
    """`?wait=N` as a finite, non-negative number; 0 without a query; None for
    any other query (the route reads and checks it)."""
    if not query:
        return 0.0
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "wait":
        return None
    try:
        wait = float(pairs[0][1])
    except ValueError:
        return None
    return wait if math.isfinite(wait) and wait >= 0 else None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The body, or what came of it before anything but a body part arrived
    (then also those messages, to hand on)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), [message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), []


def _replaying(body: bytes, extra: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands the body over again, then what came after it."""
    pending: list[Message] = [
        {"type": "http.request", "body": body, "more_body": bool(extra)},
        *extra,
    ]

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
