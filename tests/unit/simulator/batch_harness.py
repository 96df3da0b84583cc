"""Batch API helpers for simulator tests: bodies in the wire's key order, calls."""

import json
from typing import Any

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, SimClient

V1 = "/api/v1/batches"
BETA = "/api/beta/batches"
MODEL = "openai/gpt-4o-mini"


def line(custom_id: str, text: str = "Hello there", **body: Any) -> dict[str, Any]:
    """One request of a batch: a custom_id and a chat body."""
    return {
        "custom_id": custom_id,
        "body": {"messages": [{"role": "user", "content": text}], **body},
    }


def batch_body(
    requests: list[dict[str, Any]] | None = None,
    *,
    model: str = MODEL,
    **fields: Any,
) -> dict[str, Any]:
    """A create body with `endpoint`, `model` and `fields` first, `requests` last."""
    return {
        "endpoint": "/v1/chat/completions",
        "model": model,
        **fields,
        "requests": requests if requests is not None else [line("a"), line("b")],
    }


def slow_settings(settings: SimulatorSettings, **update: Any) -> SimulatorSettings:
    """Batches that stay where they are unless a test moves them on."""
    times = {"batch_validating_s": 600.0, "batch_in_progress_s": 600.0}
    return settings.model_copy(update={**times, **update})


async def submit(
    client: SimClient, body: dict[str, Any], *, path: str = V1
) -> tuple[int, Any]:
    """POST a batch; the status and the parsed answer."""
    return await post_bytes(client, json.dumps(body).encode(), path=path)


async def post_bytes(
    client: SimClient, raw: bytes, *, path: str = V1
) -> tuple[int, Any]:
    """POST raw bytes as a batch body, for tests of key order and size."""
    response = await client.session.post(
        path, data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    return response.status, await response.json()


async def created(client: SimClient, body: dict[str, Any]) -> str:
    """Submit a batch that must be accepted; its id."""
    status, answer = await submit(client, body)
    assert status == 202, answer
    batch_id: str = answer["id"]
    return batch_id


async def call(
    client: SimClient, method: str, path: str, **params: Any
) -> tuple[int, Any]:
    """Call an authenticated route; the status and the JSON (or text) answer."""
    response = await client.session.request(method, path, headers=AUTH, **params)
    text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


async def fetch(client: SimClient, batch_id: str, *, path: str = V1) -> Any:
    """GET a batch that must answer 200."""
    status, body = await call(client, "GET", f"{path}/{batch_id}")
    assert status == 200, body
    return body


async def advance(client: SimClient, batch_id: str, until: str | None = None) -> Any:
    """Fast-forward a batch through the control route."""
    payload = {} if until is None else {"until": until}
    response = await client.session.post(
        f"/_sim/batches/{batch_id}/advance", json=payload
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def control(client: SimClient, path: str, payload: Any) -> tuple[int, Any]:
    """POST to a /_sim route."""
    response = await client.session.post(path, json=payload)
    return response.status, await response.json()
