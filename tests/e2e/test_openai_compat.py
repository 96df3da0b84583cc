"""The official OpenAI SDK against helixq's OpenAI-compatible endpoint."""

import openai
import pytest

from tests.e2e.conftest import Client, Stack

pytestmark = pytest.mark.timeout(120)


def sdk(stack: Stack, client: Client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=client.key, timeout=60)


def test_openai_sdk_completes_through_the_broker(
    stack: Stack, tenant_client: Client
) -> None:
    completion = sdk(stack, tenant_client).chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Say hello to the SDK"}],
        max_tokens=8,
    )
    assert completion.choices[0].message.content
    assert completion.model == "openai/gpt-4o-mini"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_openai_sdk_streams_chunks(stack: Stack, tenant_client: Client) -> None:
    stream = sdk(stack, tenant_client).chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Stream to the SDK"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None


def test_openai_sdk_raises_on_a_permanent_failure(
    stack: Stack, tenant_client: Client
) -> None:
    with pytest.raises(openai.BadRequestError):
        sdk(stack, tenant_client).chat.completions.create(
            model="sim/400", messages=[{"role": "user", "content": "fail"}]
        )
