"""POST /api/v1/embeddings: deterministic unit vectors, usage with exact cost,
OpenRouter's errors."""

import base64
import math
import struct
from decimal import Decimal

import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, running

SMALL = "openai/text-embedding-3-small"


async def _embed(settings, body, headers=None):
    async with running(settings) as client:
        response = await client.session.post(
            "/api/v1/embeddings", json=body, headers=headers or AUTH
        )
        return response.status, await response.json(), client.state


async def test_each_input_gets_a_deterministic_unit_vector_and_usage_with_cost(
    settings: SimulatorSettings,
) -> None:
    body = {"model": SMALL, "input": ["hello world", "goodbye now", "hello world"]}
    status, answer, state = await _embed(settings, body)
    assert status == 200
    assert answer["object"] == "list"
    assert answer["model"] == SMALL
    vectors = [item["embedding"] for item in answer["data"]]
    assert [item["index"] for item in answer["data"]] == [0, 1, 2]
    assert {len(vector) for vector in vectors} == {1536}
    assert math.isclose(sum(v * v for v in vectors[0]), 1.0, rel_tol=1e-9)
    assert vectors[0] == vectors[2] != vectors[1]
    usage = answer["usage"]
    assert usage["prompt_tokens"] == usage["total_tokens"] == 9  # 3 + 3 + 3
    assert Decimal(str(usage["cost"])) == 9 * Decimal("2e-8")
    assert state.ledger.total == 9 * Decimal("2e-8")
    _, again, _ = await _embed(settings, body)
    assert [item["embedding"] for item in again["data"]] == vectors


async def test_dimensions_and_base64_encoding(settings: SimulatorSettings) -> None:
    body = {
        "model": SMALL,
        "input": "short",
        "dimensions": 8,
        "encoding_format": "base64",
    }
    status, answer, _ = await _embed(settings, body)
    assert status == 200
    packed = base64.b64decode(answer["data"][0]["embedding"])
    assert len(struct.unpack("<8f", packed)) == 8


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": SMALL}, 400),
        ({"model": SMALL, "input": []}, 400),
        ({"model": SMALL, "input": [1, 2]}, 400),
        ({"model": SMALL, "input": "x", "dimensions": 5000}, 400),
        ({"model": "mistralai/mistral-embed-2312", "input": "x", "dimensions": 8}, 400),
        ({"model": "openai/gpt-4o-mini", "input": "x"}, 404),
        ({"model": "sim/503", "input": "x"}, 503),
        ({"model": SMALL, "input": "x" * 40_000}, 400),
    ],
)
async def test_bad_requests_answer_openrouters_errors(
    settings: SimulatorSettings, body, status
) -> None:
    answer_status, answer, state = await _embed(settings, body)
    assert answer_status == status
    assert answer["error"]["code"] == status
    assert state.calls.summary()["by_status"] == {str(status): 1}


async def test_a_bad_key_is_401(settings: SimulatorSettings) -> None:
    status, answer, _ = await _embed(
        settings, {"model": SMALL, "input": "x"}, {"Authorization": "Bearer nope"}
    )
    assert status == 401
    assert answer["error"]["code"] == 401


async def test_no_credits_is_402(settings: SimulatorSettings) -> None:
    poor = settings.model_copy(update={"credits_usd": Decimal(0)})
    status, answer, _ = await _embed(poor, {"model": SMALL, "input": "x"})
    assert status == 402
    assert "credits" in answer["error"]["message"]


async def test_embedding_models_are_listed_apart_with_their_modality_and_price(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.get("/api/v1/embeddings/models")
        listing = await response.json()
        models = await (await client.session.get("/api/v1/models")).json()
    assert response.status == 200
    entries = {entry["id"]: entry for entry in listing["data"]}
    assert entries[SMALL]["architecture"]["output_modalities"] == ["embeddings"]
    assert Decimal(entries[SMALL]["pricing"]["prompt"]) == Decimal("2e-8")
    assert SMALL not in {entry["id"] for entry in models["data"]}
