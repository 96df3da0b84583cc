"""Fixtures for the worker unit tests: an OpenRouter client against respx routes."""

from collections.abc import Callable, Iterator
from uuid import UUID

import httpx
import pytest
import respx
from pydantic import SecretStr

from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.openrouter.schemas import Completion, JsonObject
from workers.runtime.event_loop import EventLoopThread

BASE_URL = "https://openrouter.test/api/v1"
API_KEY = "sk-or-v1-unit-test-key"


@pytest.fixture
def openrouter_mock() -> respx.MockRouter:
    """Routes standing in for OpenRouter (no network)."""
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture
def event_loop_thread() -> Iterator[EventLoopThread]:
    """An event loop on its own thread, stopped at the end."""
    loop = EventLoopThread()
    yield loop
    loop.stop()


@pytest.fixture
def openrouter_client(
    openrouter_mock: respx.MockRouter, event_loop_thread: EventLoopThread
) -> Iterator[OpenRouterClient]:
    """The real client, talking to `openrouter_mock`."""
    config = ClientConfig(
        base_url=BASE_URL,
        api_key=SecretStr(API_KEY),
        timeout_s=5.0,
        max_connections=4,
        http_referer="https://example.test",
    )
    transport = httpx.MockTransport(openrouter_mock.async_handler)
    client = OpenRouterClient(config, transport=transport)
    yield client
    event_loop_thread.run(client.aclose())


@pytest.fixture
def complete(
    openrouter_client: OpenRouterClient, event_loop_thread: EventLoopThread
) -> Callable[[UUID, JsonObject], Completion]:
    """`openrouter_client.complete`, run on the loop and waited for."""

    def call(job_id: UUID, body: JsonObject) -> Completion:
        return event_loop_thread.run(openrouter_client.complete(job_id, body))

    return call
