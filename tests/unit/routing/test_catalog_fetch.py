from decimal import Decimal

import httpx
import pytest
import respx

from workers.maintenance.catalog_sync import CatalogSyncFailed, fetch_models

BASE = "https://openrouter.test/api/v1"


@pytest.fixture
def client():
    with httpx.Client() as http:
        yield http


@respx.mock
def test_fetch_parses_prices_exactly_and_skips_broken_entries(client):
    respx.get(f"{BASE}/models").respond(
        json={
            "data": [
                {
                    "id": "openrouter/a/b",
                    "name": "A",
                    "pricing": {"prompt": "0.0000001", "completion": "0.0000004"},
                },
                {"name": "no id"},
                {
                    "id": "openrouter/auto",
                    "pricing": {"prompt": "-1", "completion": "-1"},
                },
            ]
        }
    )
    respx.get(f"{BASE}/embeddings/models").respond(
        json={"data": [{"id": "e/mbed", "pricing": {"prompt": "0.00000002"}}]}
    )
    models = fetch_models(client, BASE + "/")
    assert [m.id for m in models] == ["a/b", "openrouter/auto", "e/mbed"]
    assert models[0].prompt_price == Decimal("0.0000001")
    assert [m.is_embedding for m in models] == [False, False, True]


@respx.mock
def test_fetch_fails_when_the_embedding_listing_fails(client):
    respx.get(f"{BASE}/models").respond(json={"data": [{"id": "a/b"}]})
    respx.get(f"{BASE}/embeddings/models").respond(503, json={"error": {}})
    with pytest.raises(CatalogSyncFailed):
        fetch_models(client, BASE)


@respx.mock
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(503, json={"error": {"code": 503}}),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"models": []}),
    ],
)
def test_fetch_failures_raise_one_domain_error(client, response):
    respx.get(f"{BASE}/models").mock(return_value=response)
    with pytest.raises(CatalogSyncFailed):
        fetch_models(client, BASE)


@respx.mock
def test_fetch_transport_error_is_a_sync_failure(client):
    respx.get(f"{BASE}/models").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(CatalogSyncFailed, match="refused"):
        fetch_models(client, BASE)
