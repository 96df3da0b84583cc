"""The OpenRouter client against respx routes: what it sends and how it classifies."""

import json
import time
import uuid
from decimal import Decimal

import aiohttp
import httpx
import pytest
import respx
from httpx_aiohttp.transport import map_aiohttp_exceptions
from pydantic import SecretStr

from tests.unit.workers.conftest import API_KEY, BASE_URL
from tests.unit.workers.payloads import GENERATION_ID, completion_body, error_body
from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.openrouter.errors import (
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamContextLength,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamPaymentRequired,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from workers.runtime.event_loop import EventLoopThread

BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
JOB_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _answer(mock: respx.MockRouter, response: httpx.Response) -> respx.Route:
    return mock.post("/chat/completions").mock(return_value=response)


def _failure(complete) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        complete(JOB_ID, BODY)
    return caught.value


def test_success_is_parsed_with_cost_as_exact_decimal(openrouter_mock, complete):
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))

    completion = complete(JOB_ID, BODY)

    assert completion.generation_id == GENERATION_ID
    assert completion.provider == "OpenAI"
    assert completion.model == "openai/gpt-4o-mini"
    assert (completion.prompt_tokens, completion.completion_tokens) == (12, 3)
    assert completion.cost_usd == Decimal("0.0000036")
    assert completion.latency_ms >= 0
    assert json.loads(completion.body_json) == completion_body()


def test_sends_job_id_auth_and_attribution_headers(openrouter_mock, complete):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))

    complete(JOB_ID, BODY)

    request = route.calls.last.request
    assert request.headers["X-Helixq-Job-Id"] == str(JOB_ID)
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["X-OpenRouter-Title"] == "helixq"
    assert request.headers["HTTP-Referer"] == "https://example.test"
    assert json.loads(request.content) == BODY


def test_leading_whitespace_before_the_body_is_tolerated(openrouter_mock, complete):
    content = b"\n\n   " + json.dumps(completion_body()).encode()
    _answer(openrouter_mock, httpx.Response(200, content=content))

    completion = complete(JOB_ID, BODY)

    assert completion.body_json.startswith("{")


def test_generation_id_falls_back_to_the_header(openrouter_mock, complete):
    body = completion_body()
    del body["id"]
    headers = {"X-Generation-Id": "gen-from-header"}
    _answer(openrouter_mock, httpx.Response(200, json=body, headers=headers))

    assert complete(JOB_ID, BODY).generation_id == "gen-from-header"


def test_timeout_is_retryable(openrouter_mock, complete):
    openrouter_mock.post("/chat/completions").mock(
        side_effect=httpx.ReadTimeout("timed out")
    )

    error = _failure(complete)

    assert isinstance(error, UpstreamTimeout)
    assert error.is_retryable
    assert error.code == "upstream_timeout"


def test_connection_error_is_retryable(openrouter_mock, complete):
    openrouter_mock.post("/chat/completions").mock(
        side_effect=httpx.ConnectError("refused")
    )

    error = _failure(complete)

    assert type(error) is UpstreamUnavailable
    assert API_KEY not in str(error)


class _FailingAiohttpTransport(httpx.AsyncBaseTransport):
    """Fails every call with what the aiohttp transport raises for `error` (it
    maps aiohttp's errors onto httpx's, and not always by meaning)."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with map_aiohttp_exceptions():
            raise self._error


def _failure_through_aiohttp(error: Exception, loop: EventLoopThread) -> UpstreamError:
    config = ClientConfig(
        base_url=BASE_URL, api_key=SecretStr(API_KEY), timeout_s=5, max_connections=1
    )
    client = OpenRouterClient(config, transport=_FailingAiohttpTransport(error))
    with pytest.raises(UpstreamError) as caught:
        loop.run(client.complete(JOB_ID, BODY))
    return caught.value


def test_a_connection_dropped_mid_call_is_unavailable_not_a_timeout(
    event_loop_thread,
):
    # What a call in flight meets when the server goes away (a local simulator
    # stopped with the stack): the transport calls it a ConnectTimeout.
    dropped = aiohttp.ServerDisconnectedError()

    error = _failure_through_aiohttp(dropped, event_loop_thread)

    assert type(error) is UpstreamUnavailable
    assert "ServerDisconnectedError" in error.message


def test_an_aiohttp_read_timeout_stays_a_timeout(event_loop_thread):
    timed_out = aiohttp.SocketTimeoutError()

    error = _failure_through_aiohttp(timed_out, event_loop_thread)

    assert isinstance(error, UpstreamTimeout)


class _BrokenBody(httpx.AsyncByteStream):
    """A body that fails after its first bytes, remembering that it was closed."""

    closed = False

    async def __aiter__(self):
        yield b'{"id": "gen-'
        raise httpx.ReadError("connection reset")

    async def aclose(self) -> None:
        self.closed = True


def test_connection_lost_while_reading_the_body_is_retryable_and_closed(
    openrouter_mock, complete
):
    body = _BrokenBody()
    _answer(openrouter_mock, httpx.Response(200, stream=body))

    error = _failure(complete)

    assert type(error) is UpstreamUnavailable
    assert body.closed


def test_429_with_retry_after_carries_the_delay(openrouter_mock, complete):
    body = error_body(429, "Provider returned error", raw="slow down upstream")
    _answer(
        openrouter_mock, httpx.Response(429, json=body, headers={"Retry-After": "7"})
    )

    error = _failure(complete)

    assert isinstance(error, UpstreamRateLimited)
    assert error.code == "upstream_rate_limited"
    assert error.http_status == 429
    assert error.retry_after_s == 7.0
    assert error.message == "Provider returned error: slow down upstream"


def test_429_with_ratelimit_reset_header_waits_until_reset(openrouter_mock, complete):
    reset_ms = int((time.time() + 30) * 1000)
    headers = {"X-RateLimit-Reset": str(reset_ms)}
    _answer(openrouter_mock, httpx.Response(429, json={}, headers=headers))

    error = _failure(complete)

    assert error.retry_after_s is not None
    assert 25 < error.retry_after_s <= 30


def test_429_with_ratelimit_reset_in_metadata_waits_until_reset(
    openrouter_mock, complete
):
    reset_ms = int((time.time() + 60) * 1000)
    body = error_body(
        429,
        "Rate limit exceeded: free-models-per-day",
        headers={"X-RateLimit-Limit": "50", "X-RateLimit-Reset": str(reset_ms)},
    )
    _answer(openrouter_mock, httpx.Response(429, json=body))

    error = _failure(complete)

    assert error.retry_after_s is not None
    assert 55 < error.retry_after_s <= 60


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, UpstreamUnavailable),
        (502, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (524, UpstreamTimeout),
        (529, UpstreamUnavailable),
        (408, UpstreamTimeout),
    ],
)
def test_server_side_statuses_are_retryable(
    openrouter_mock, complete, status, expected
):
    _answer(openrouter_mock, httpx.Response(status, json=error_body(status, "down")))

    error = _failure(complete)

    assert type(error) is expected
    assert error.is_retryable
    assert error.http_status == status


@pytest.mark.parametrize(
    ("status", "message", "expected", "code"),
    [
        (400, "bad params", UpstreamBadRequest, "upstream_bad_request"),
        (400, "x/y is not a valid model ID", UpstreamModelNotFound, None),
        (400, "maximum context length is 8192", UpstreamContextLength, None),
        (401, "User not found.", UpstreamUnauthorized, "upstream_unauthorized"),
        (402, "more credits", UpstreamPaymentRequired, "upstream_payment_required"),
        (404, "no endpoints", UpstreamModelNotFound, "upstream_model_not_found"),
        (422, "unprocessable", UpstreamBadRequest, None),
        (409, "conflict", UpstreamRejected, "upstream_rejected"),
    ],
)
def test_client_side_statuses_are_permanent(
    openrouter_mock, complete, status, message, expected, code
):
    _answer(openrouter_mock, httpx.Response(status, json=error_body(status, message)))

    error = _failure(complete)

    assert type(error) is expected
    assert not error.is_retryable
    assert error.message == message
    assert code is None or error.code == code


def test_malformed_json_is_a_retryable_bad_response(openrouter_mock, complete):
    _answer(openrouter_mock, httpx.Response(200, content=b"<html>oops</html>"))

    error = _failure(complete)

    assert isinstance(error, UpstreamBadResponse)
    assert error.is_retryable


def test_non_json_error_body_is_classified_by_status(openrouter_mock, complete):
    _answer(openrouter_mock, httpx.Response(502, content=b"Bad Gateway"))

    error = _failure(complete)

    assert type(error) is UpstreamUnavailable
    assert "Bad Gateway" in error.message


def test_200_with_choice_error_is_an_error_with_its_cost(openrouter_mock, complete):
    body = completion_body()
    body["choices"][0]["finish_reason"] = "error"
    body["choices"][0]["error"] = {"code": 502, "message": "provider died"}
    _answer(openrouter_mock, httpx.Response(200, json=body))

    error = _failure(complete)

    assert type(error) is UpstreamUnavailable
    assert error.message == "provider died"
    assert error.cost_usd == Decimal("0.0000036")


def test_200_with_top_level_error_is_classified_by_error_type(
    openrouter_mock, complete
):
    body = completion_body(
        error={
            "code": "server_error",
            "message": "too long",
            "metadata": {"error_type": "context_length_exceeded"},
        }
    )
    _answer(openrouter_mock, httpx.Response(200, json=body))

    assert isinstance(_failure(complete), UpstreamContextLength)


def test_200_with_unknown_error_defaults_to_retryable(openrouter_mock, complete):
    body = completion_body(error={"code": "server_error", "message": "hiccup"})
    _answer(openrouter_mock, httpx.Response(200, json=body))

    assert _failure(complete).is_retryable
