"""Upstream error text is redacted and bounded before it leaves the client: an
upstream quoting our Authorization header back never hands the key on, and a body
that is not OpenRouter's error envelope is summarised, never passed on whole."""

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from tests.unit.workers.conftest import BASE_URL
from tests.unit.workers.payloads import completion_body, error_body
from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.openrouter.errors import (
    UpstreamError,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from workers.openrouter.responses import MAX_EXCERPT_CHARS, MAX_MESSAGE_CHARS
from workers.runtime.event_loop import EventLoopThread

# A configured key of no known shape: only the configured value can find it.
KEY = "or-live-0123456789abcdefghijklmnopqrstuv"
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
JOB_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")
# The shortest start of the key the redaction guarantees to mask.
KEY_START = KEY[:12]


@pytest.fixture
def fail(
    openrouter_mock: respx.MockRouter, event_loop_thread: EventLoopThread
) -> Iterator[Callable[[httpx.Response], UpstreamError]]:
    """Answer the next call with a response; the UpstreamError the client raised."""
    config = ClientConfig(
        base_url=BASE_URL, api_key=SecretStr(KEY), timeout_s=5.0, max_connections=2
    )
    transport = httpx.MockTransport(openrouter_mock.async_handler)
    client = OpenRouterClient(config, transport=transport)

    def call(response: httpx.Response) -> UpstreamError:
        openrouter_mock.post("/chat/completions").mock(return_value=response)
        with pytest.raises(UpstreamError) as caught:
            event_loop_thread.run(client.complete(JOB_ID, BODY))
        return caught.value

    yield call
    event_loop_thread.run(client.aclose())


def _assert_no_key(error: UpstreamError) -> None:
    shown = f"{error} {error.message} {error.details}"
    assert KEY_START not in shown


def test_401_quoting_the_authorization_header_keeps_its_words_not_the_key(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    body = error_body(401, f"Invalid credentials: Bearer {KEY}")

    error = fail(httpx.Response(401, json=body))

    assert type(error) is UpstreamUnauthorized
    assert error.message == "Invalid credentials: Bearer ***"
    _assert_no_key(error)


def test_401_quoting_the_key_alone_or_cut_short_masks_it(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    body = error_body(401, f"key {KEY} (starts {KEY[:16]}...) is not valid")

    error = fail(httpx.Response(401, json=body))

    assert error.message == "key *** (starts ***...) is not valid"


def test_plain_text_502_quoting_the_headers_is_summarised_without_the_key(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    text = (
        "502 Bad Gateway\nPOST /api/v1/chat/completions\n"
        f"Authorization: Bearer {KEY}\nX-Helixq-Job-Id: {JOB_ID}\n" + "." * 10_000
    )

    error = fail(httpx.Response(502, text=text))

    assert type(error) is UpstreamUnavailable
    assert error.message.startswith("OpenRouter answered 502")
    assert (
        "502 Bad Gateway POST /api/v1/chat/completions Authorization: Bearer ***"
        in (error.message)
    )
    assert len(error.message) < MAX_EXCERPT_CHARS + 100
    assert error.message.endswith("…")
    _assert_no_key(error)


def test_json_that_is_not_the_error_envelope_is_summarised_with_an_excerpt(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    body = {"detail": f"upstream rejected Authorization: Bearer {KEY}"}

    error = fail(httpx.Response(503, json=body))

    assert type(error) is UpstreamUnavailable
    assert error.message.startswith("OpenRouter answered 503")
    assert "upstream rejected Authorization: Bearer ***" in error.message
    _assert_no_key(error)


def test_an_error_that_is_a_string_is_summarised_with_an_excerpt(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    error = fail(httpx.Response(401, json={"error": f"bad token {KEY}"}))

    assert type(error) is UpstreamUnauthorized
    assert error.message.startswith("OpenRouter answered 401")
    assert "bad token ***" in error.message


def test_provider_raw_text_quoting_the_key_is_masked(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    body = error_body(
        502, "Provider returned error", raw=f"proxy saw headers {{'x-key': '{KEY}'}}"
    )

    error = fail(httpx.Response(502, json=body))

    assert error.message == (
        "Provider returned error: proxy saw headers {'x-key': '***'}"
    )


def test_a_long_message_is_redacted_before_it_is_cut(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    # Cut first, the key's first characters would end the message.
    message = "x" * (MAX_MESSAGE_CHARS - 6) + " " + KEY

    error = fail(httpx.Response(400, json=error_body(400, message)))

    assert error.message.endswith(" ***")
    assert KEY[:5] not in error.message


def test_an_error_inside_a_200_quoting_the_key_is_masked(
    fail: Callable[[httpx.Response], UpstreamError],
) -> None:
    body = completion_body()
    body["choices"][0]["finish_reason"] = "error"
    body["choices"][0]["error"] = {"code": 502, "message": f"died: Bearer {KEY}"}

    error = fail(httpx.Response(200, json=body))

    assert error.message == "died: Bearer ***"
