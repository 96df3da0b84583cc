"""Fixtures for the worker unit tests: an OpenRouter client against respx routes."""

from collections.abc import Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from workers.event_loop import EventLoopThread
from workers.openrouter.client import ClientConfig, OpenRouterClient

BASE_URL = "https://openrouter.test/api/v1"
API_KEY = "sk-or-v1-unit-test-key"


@pytest.fixture
def openrouter_mock() -> respx.MockRouter:
    """Routes standing in for OpenRouter (no network)."""
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture
def openrouter_client(openrouter_mock: respx.MockRouter) -> Iterator[OpenRouterClient]:
    """The real client on its own event loop thread, talking to `openrouter_mock`."""
    loop = EventLoopThread()
    config = ClientConfig(
        base_url=BASE_URL,
        api_key=SecretStr(API_KEY),
        timeout_s=5.0,
        max_connections=4,
        http_referer="https://example.test",
    )
    transport = httpx.MockTransport(openrouter_mock.async_handler)
    client = OpenRouterClient(config, loop, transport=transport)
    yield client
    client.close()
    loop.stop()
