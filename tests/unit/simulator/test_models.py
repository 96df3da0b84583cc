"""GET /models and /models/{author}/{slug}/endpoints."""

from simulator.catalog import Catalog
from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, chat, running


async def test_models_lists_snapshot_and_sim_models_without_auth(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.get("/api/v1/models")
        models = {model["id"]: model for model in (await response.json())["data"]}
    assert response.status == 200
    assert models["anthropic/claude-sonnet-4.5"]["pricing"]["prompt"] == "0.000003"
    for scripted in ("sim/ok", "sim/429", "sim/429-then-ok", "sim/503x2-then-ok"):
        assert scripted in models
    assert models["sim/ok"]["pricing"] == {
        "prompt": "0.000001",
        "completion": "0.000002",
    }


async def test_endpoints_describe_the_serving_provider(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.get(
            "/api/v1/models/meta-llama/llama-3.3-70b-instruct/endpoints", headers=AUTH
        )
        data = (await response.json())["data"]
    endpoint = data["endpoints"][0]
    assert endpoint["provider_name"] == "DeepInfra"
    assert endpoint["latency_last_30m"]["p50"] == settings.latency_ms


async def test_endpoints_of_unknown_model_are_404(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.get("/api/v1/models/acme/nothing/endpoints")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == 404


def test_missing_price_keys_mean_zero() -> None:
    model = Catalog.load().find("openai/gpt-4o")
    assert model is not None
    assert model.prices.request == 0


def test_routing_variants_resolve_to_the_base_model() -> None:
    model = Catalog.load().find("openai/gpt-4o:nitro")
    assert model is not None
    assert model.id == "openai/gpt-4o"


async def test_models_lists_batch_variants_at_half_price(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.get("/api/v1/models")
        models = {model["id"]: model for model in (await response.json())["data"]}
    variant, base = models["openai/gpt-4o:batch"], models["openai/gpt-4o"]
    assert variant["canonical_slug"] == "openai/gpt-4o"
    assert variant["pricing"]["prompt"] == "0.00000125"
    assert variant["pricing"]["completion"] == "0.000005"
    assert base["pricing"]["prompt"] == "0.0000025"
    assert "anthropic/claude-haiku-4.5:batch" in models
    assert "sim/ok:batch" in models
    assert "deepseek/deepseek-chat:batch" not in models
    assert "openai/gpt-oss-120b:free:batch" not in models


async def test_batch_slug_is_refused_on_chat_completions(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o:batch"))
        body = await response.json()
    assert response.status == 404
    assert body["error"]["message"] == (
        "This model is only available through the Batch API. "
        "Use the /api/beta/batches endpoint instead."
    )
