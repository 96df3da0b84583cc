"""POST /batches: the synchronous checks and the 202 answer."""

import json
from decimal import Decimal
from typing import Any

import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.batch_harness import (
    BETA,
    MODEL,
    V1,
    batch_body,
    call,
    line,
    post_bytes,
    slow_settings,
    submit,
)
from tests.unit.simulator.harness import running

ORDER_MESSAGE = (
    "endpoint and model are required and must appear before requests "
    "in the request body"
)


@pytest.mark.parametrize("path", [V1, BETA])
async def test_create_answers_202_validating_under_both_prefixes(
    settings: SimulatorSettings, path: str
) -> None:
    async with running(slow_settings(settings)) as client:
        status, batch = await submit(client, batch_body(), path=path)
        again, fetched = await call(client, "GET", f"{path}/{batch['id']}")
    assert status == 202
    assert again == 200
    assert fetched["id"] == batch["id"]
    assert batch["object"] == "batch"
    assert batch["status"] == "validating"
    assert batch["model"] == MODEL
    assert batch["endpoint"] == "/v1/chat/completions"
    assert batch["completion_window"] == "24h"
    assert batch["provider"] == "OpenAI"
    assert batch["request_counts"] == {"total": 2, "completed": 0, "failed": 0}
    for empty in ("finalized_at", "usage", "results", "error"):
        assert batch[empty] is None
    assert batch["id"].startswith("batch-")
    assert batch["expires_at"] == batch["created_at"] + 86400


async def test_batches_are_shared_by_both_prefixes(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        _, batch = await submit(client, batch_body(), path=BETA)
        status, _ = await call(client, "GET", f"{V1}/{batch['id']}")
    assert status == 200


async def test_requests_before_endpoint_and_model_is_the_field_order_400(
    settings: SimulatorSettings,
) -> None:
    body = batch_body()
    reordered = {"requests": body["requests"], "endpoint": body["endpoint"]}
    reordered["model"] = body["model"]
    async with running(settings) as client:
        status, answer = await submit(client, reordered)
    assert status == 400
    assert answer["error"] == {"code": 400, "message": ORDER_MESSAGE}


async def test_missing_model_is_the_field_order_400(
    settings: SimulatorSettings,
) -> None:
    body = batch_body()
    del body["model"]
    async with running(settings) as client:
        status, answer = await submit(client, body)
    assert status == 400
    assert answer["error"]["message"] == ORDER_MESSAGE


async def test_field_order_is_read_from_the_raw_bytes(
    settings: SimulatorSettings,
) -> None:
    raw = (
        b'{"endpoint": "/v1/chat/completions", "requests": [{"custom_id": "a", '
        b'"body": {"messages": [{"role": "user", "content": "x"}]}}], '
        b'"model": "openai/gpt-4o-mini"}'
    )
    async with running(settings) as client:
        status, answer = await post_bytes(client, raw)
    assert status == 400
    assert answer["error"]["message"] == ORDER_MESSAGE


async def test_callback_url_after_requests_is_refused(
    settings: SimulatorSettings,
) -> None:
    body = {**batch_body(), "callback_url": "https://example.com/hook"}
    async with running(settings) as client:
        status, answer = await submit(client, body)
    assert status == 400
    assert "callback_url must appear before requests" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"endpoint": "/v1/completions"}, 400, "endpoint must be one of"),
        ({"endpoint": "/v1/embeddings"}, 400, "/v1/chat/completions batches only"),
        ({"model": "deepseek/deepseek-chat"}, 400, "does not have a :batch endpoint"),
        ({"model": "acme/nothing"}, 400, "does not have a :batch endpoint"),
        ({"completion_window": "48h"}, 400, "completion_window"),
        ({"callback_url": "ftp://example.com"}, 400, "callback_url"),
        ({"callback_url": "http://example.com/hook"}, 400, "HTTPS"),
        ({"callback_url": "https://[::1/hook"}, 400, "HTTPS"),
        ({"callback_url": 7}, 400, "HTTPS"),
        ({"provider": {"order": ["openai"]}}, 400, "provider"),
        ({"provider": {"only": ["anthropic"]}}, 404, "provider.only: anthropic"),
    ],
)
async def test_top_level_fields_are_checked(
    settings: SimulatorSettings, fields: dict[str, object], status: int, fragment: str
) -> None:
    body = batch_body()
    requests = body.pop("requests")
    body = {**body, **fields, "requests": requests}
    async with running(settings) as client:
        got, answer = await submit(client, body)
    assert got == status, answer
    assert answer["error"]["code"] == status
    assert fragment in answer["error"]["message"]


@pytest.mark.parametrize(
    ("requests", "status", "fragment"),
    [
        ([], 400, "requests must be a non-empty array"),
        ([{"body": {}}], 400, "custom_id: Invalid input: expected string"),
        ([{"custom_id": "a", "body": "hi"}], 400, "body must be an object"),
        ([line("a", model="openai/gpt-4o")], 400, "does not match the batch model"),
        (
            [line("dup"), line("dup")],
            422,
            "Request at line 2 has a duplicate custom_id 'dup'",
        ),
        (
            [
                {
                    "custom_id": "img",
                    "body": {
                        "messages": [
                            {
                                "role": "user",
                                "content": [
                                    {
                                        "type": "image_url",
                                        "image_url": {
                                            "url": "data:image/png;base64,AA"
                                        },
                                    }
                                ],
                            }
                        ]
                    },
                }
            ],
            422,
            "contains unsupported 'image_url' content",
        ),
        (
            [
                {
                    "custom_id": "audio",
                    "body": {
                        "messages": [
                            {
                                "role": "user",
                                "content": [{"type": "input_audio", "input_audio": {}}],
                            }
                        ]
                    },
                }
            ],
            422,
            "contains unsupported 'input_audio' content",
        ),
        ([line("m", modalities=["text", "audio"])], 422, "modalities"),
    ],
)
async def test_lines_are_checked_at_submit(
    settings: SimulatorSettings,
    requests: list[dict[str, Any]],
    status: int,
    fragment: str,
) -> None:
    async with running(settings) as client:
        got, answer = await submit(client, batch_body(requests))
    assert got == status, answer
    assert fragment in answer["error"]["message"]


async def test_public_image_urls_are_accepted(settings: SimulatorSettings) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    request = {
        "custom_id": "img",
        "body": {"messages": [{"role": "user", "content": [image]}]},
    }
    async with running(slow_settings(settings)) as client:
        status, _ = await submit(client, batch_body([request]))
    assert status == 202


async def test_line_model_may_repeat_the_batch_model(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        status, _ = await submit(client, batch_body([line("a", model=MODEL)]))
    assert status == 202


async def test_batch_variant_slug_is_accepted(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        status, batch = await submit(client, batch_body(model=f"{MODEL}:batch"))
    assert status == 202
    assert batch["model"] == f"{MODEL}:batch"


async def test_more_requests_than_the_limit_is_400(settings: SimulatorSettings) -> None:
    tight = settings.model_copy(update={"batch_max_requests": 2})
    requests = [line(str(index)) for index in range(3)]
    async with running(tight) as client:
        status, answer = await submit(client, batch_body(requests))
    assert status == 400
    assert "at most 2 requests" in answer["error"]["message"]


async def test_body_past_the_size_limit_is_413(settings: SimulatorSettings) -> None:
    tight = settings.model_copy(update={"batch_max_bytes": 1000})
    requests = [line("a", "x" * 2000)]
    async with running(tight) as client:
        status, answer = await submit(client, batch_body(requests))
    assert status == 413
    assert "1000 bytes" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{not json", "Invalid JSON"), (b"[1, 2]", "JSON object")],
)
async def test_unreadable_body_is_400(
    settings: SimulatorSettings, raw: bytes, fragment: str
) -> None:
    async with running(settings) as client:
        status, answer = await post_bytes(client, raw)
    assert status == 400
    assert fragment in answer["error"]["message"]


async def test_create_without_a_key_is_401(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.post(V1, data=json.dumps(batch_body()))
        body = await response.json()
    assert response.status == 401
    assert body["error"]["message"] == "No auth credentials found"


async def test_create_without_credits_is_402(settings: SimulatorSettings) -> None:
    broke = settings.model_copy(update={"credits_usd": Decimal(0)})
    async with running(broke) as client:
        status, answer = await submit(client, batch_body())
    assert status == 402
    assert answer["error"]["code"] == 402


async def test_refused_batches_are_not_stored(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        await submit(client, batch_body([line("dup"), line("dup")]))
        _, listing = await call(client, "GET", V1)
    assert listing["data"] == []
