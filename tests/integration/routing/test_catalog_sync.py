"""Catalog sync into real Postgres: exact prices, unlisting, reading back."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared import redis_keys
from shared.db.models import CatalogModel
from shared.routing.catalog import parse_model
from workers.maintenance.catalog_sync import (
    CatalogSyncFailed,
    SyncResult,
    load_catalog,
    seed_catalog,
    sync_catalog,
    sync_catalog_when_due,
    upsert_catalog,
)
from workers.routing.catalog import CatalogCache

SNAPSHOT = Path(__file__).parents[3] / "simulator" / "data" / "openrouter-models.json"
BASE = "https://openrouter.test/api/v1"
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _entry(model_id: str, prompt: str = "0.00000025", completion: str = "0.00000125"):
    return {
        "id": model_id,
        "name": model_id,
        "context_length": 8192,
        "pricing": {"prompt": prompt, "completion": completion},
    }


def test_upsert_keeps_prices_exact_and_updates_them(db_session: Session):
    upsert_catalog(db_session, [parse_model(_entry("x/a"))], now=NOW)
    upsert_catalog(
        db_session, [parse_model(_entry("x/a", prompt="0.0000000375"))], now=NOW
    )
    row = db_session.get(CatalogModel, "x/a")
    db_session.refresh(row)
    assert row.prompt_price == Decimal("0.0000000375")
    assert row.completion_price == Decimal("0.00000125")
    assert row.pricing == {"prompt": "0.0000000375", "completion": "0.00000125"}


def test_models_missing_from_a_listing_are_unlisted_not_deleted(db_session: Session):
    upsert_catalog(
        db_session, [parse_model(_entry("x/a")), parse_model(_entry("x/b"))], now=NOW
    )
    result = upsert_catalog(db_session, [parse_model(_entry("x/a"))], now=NOW)
    assert result.listed == 1
    assert result.unlisted >= 1
    db_session.expire_all()
    assert db_session.get(CatalogModel, "x/b").is_listed is False
    assert "x/b" not in load_catalog(db_session)
    upsert_catalog(db_session, [parse_model(_entry("x/b"))], now=NOW)
    db_session.expire_all()
    assert db_session.get(CatalogModel, "x/b").is_listed is True


def test_seed_loads_the_bundled_snapshot_without_unlisting(db_session: Session):
    upsert_catalog(db_session, [parse_model(_entry("x/kept"))], now=NOW)
    assert seed_catalog(db_session, SNAPSHOT).listed == 73
    catalog = load_catalog(db_session)
    assert "x/kept" in catalog
    assert catalog["anthropic/claude-sonnet-4.5"].prompt_price == Decimal("0.000003")
    assert catalog["openrouter/auto"].is_variable_price


@respx.mock
def test_sync_fetches_then_upserts(db_session: Session):
    respx.get(f"{BASE}/models").respond(json={"data": [_entry("openrouter/y/z")]})
    respx.get(f"{BASE}/embeddings/models").respond(json={"data": [_entry("e/m")]})
    sessions = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint"
    )
    with httpx.Client() as client:
        result = sync_catalog(sessions, client, BASE)
    assert result.listed == 2
    rows = db_session.execute(
        select(CatalogModel.id, CatalogModel.output_modalities)
        .where(CatalogModel.is_listed)
        .order_by(CatalogModel.id)
    ).all()
    assert [tuple(row) for row in rows] == [("e/m", ["embeddings"]), ("y/z", None)]
    assert load_catalog(db_session)["e/m"].is_embedding


@respx.mock
def test_empty_listing_changes_nothing(db_session: Session):
    upsert_catalog(db_session, [parse_model(_entry("x/a"))], now=NOW)
    respx.get(f"{BASE}/models").respond(json={"data": []})
    respx.get(f"{BASE}/embeddings/models").respond(json={"data": []})
    sessions = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint"
    )
    with httpx.Client() as client:
        assert sync_catalog(sessions, client, BASE).listed == 0
    assert "x/a" in load_catalog(db_session)


def test_catalog_cache_reloads_after_its_ttl(db_session: Session):
    async def load():
        return load_catalog(db_session)

    now = [0.0]
    cache = CatalogCache(load, ttl_s=60, clock=lambda: now[0])
    upsert_catalog(db_session, [parse_model(_entry("x/a"))], now=NOW)
    assert "x/a" in asyncio.run(cache.get())
    upsert_catalog(db_session, [parse_model(_entry("x/new"))], now=NOW)
    assert "x/new" not in asyncio.run(cache.get())
    now[0] = 61.0
    assert "x/new" in asyncio.run(cache.get())


@respx.mock
def test_a_sync_is_made_when_none_succeeded_within_the_max_age(
    db_session: Session, redis_client
):
    """Beat asks often: a failed sync is tried again at the next ask, a good one
    holds for the max age."""
    listing = respx.get(f"{BASE}/models")
    listing.side_effect = [
        httpx.Response(503),
        httpx.Response(200, json={"data": [_entry("x/a")]}),
        httpx.Response(200, json={"data": [_entry("x/a")]}),
    ]
    respx.get(f"{BASE}/embeddings/models").respond(json={"data": []})
    sessions = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint"
    )

    def ask() -> SyncResult | None:
        return sync_catalog_when_due(
            sessions, client, BASE, redis_client, max_age_s=3600
        )

    with httpx.Client() as client:
        with pytest.raises(CatalogSyncFailed):
            ask()
        synced = ask()
        held = ask()
        redis_client.delete(redis_keys.catalog_synced())  # the hour has passed
        again = ask()

    assert synced is not None
    assert synced.listed == 1
    assert held is None
    assert again is not None
    assert listing.call_count == 3


@respx.mock
def test_an_empty_catalog_is_synced_whatever_redis_remembers(
    db_session: Session, redis_client
):
    """A new database beside an old Redis: the mark of a sync made for another
    database does not hold an empty catalog back."""
    redis_client.set(redis_keys.catalog_synced(), "1", ex=3600)
    db_session.execute(update(CatalogModel).values(is_listed=False))
    respx.get(f"{BASE}/models").respond(json={"data": [_entry("x/a")]})
    respx.get(f"{BASE}/embeddings/models").respond(json={"data": []})
    sessions = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint"
    )
    with httpx.Client() as client:
        synced = sync_catalog_when_due(
            sessions, client, BASE, redis_client, max_age_s=3600
        )
    assert synced is not None
    assert "x/a" in load_catalog(db_session)
