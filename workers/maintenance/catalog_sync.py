"""The model catalog in Postgres: fetched from OpenRouter's `/api/v1/models`
periodically (beat), or seeded from a saved snapshot (routing reads it through
workers.routing.catalog).

Models missing from a listing are marked `is_listed = false`, never deleted:
old jobs and attempts still name them. Prices stay exact: Decimal columns plus
the original price strings in `pricing`.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from shared import redis_keys
from shared.db.models import CatalogModel
from shared.endpoints import EMBEDDINGS_MODALITY
from shared.errors import BrokerError
from shared.routing.catalog import ModelInfo, by_id, load_snapshot, parse_model

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 30.0
_UPDATED_COLUMNS = (
    "name",
    "context_length",
    "max_completion_tokens",
    "prompt_price",
    "completion_price",
    "request_price",
    "pricing",
    "supported_parameters",
    "created",
    "output_modalities",
    "is_listed",
    "updated_at",
)


class CatalogSyncFailed(BrokerError):
    code = "catalog_sync_failed"


@dataclass(frozen=True, slots=True)
class SyncResult:
    listed: int
    unlisted: int


def fetch_models(client: httpx.Client, base_url: str) -> list[ModelInfo]:
    """GET `{base_url}/models` and `{base_url}/embeddings/models` (OpenRouter lists
    embedding models apart) and parse them; entries without an id are skipped.

    Raises CatalogSyncFailed on a transport error, a non-2xx answer or a body
    that is not a listing.
    """
    base = base_url.rstrip("/")
    models = _fetch_listing(client, f"{base}/models")
    embedding_models = [
        model
        if model.is_embedding
        else replace(model, output_modalities=(EMBEDDINGS_MODALITY,))
        for model in _fetch_listing(client, f"{base}/embeddings/models")
    ]
    return models + embedding_models


def _fetch_listing(client: httpx.Client, url: str) -> list[ModelInfo]:
    try:
        response = client.get(url, timeout=FETCH_TIMEOUT_S)
        response.raise_for_status()
        payload = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CatalogSyncFailed(f"cannot read the model listing: {exc}") from exc
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise CatalogSyncFailed(f"the model listing at {url} has no `data` list")
    return _parse_entries(entries)


def upsert_catalog(
    session: Session,
    models: Sequence[ModelInfo],
    *,
    now: datetime,
    unlist_missing: bool = True,
) -> SyncResult:
    """Insert or update `models`; mark listed models absent from them unlisted.

    An empty `models` unlists nothing: an empty listing is an upstream fault.
    """
    unique = list(by_id(models).values())
    if unique:
        statement = insert(CatalogModel).values([_row(m, now) for m in unique])
        statement = statement.on_conflict_do_update(
            index_elements=[CatalogModel.id],
            set_={column: statement.excluded[column] for column in _UPDATED_COLUMNS},
        )
        session.execute(statement)
    unlisted = 0
    if unlist_missing and unique:
        result = session.execute(
            update(CatalogModel)
            .where(
                CatalogModel.is_listed, CatalogModel.id.not_in([m.id for m in unique])
            )
            .values(is_listed=False, updated_at=now)
        )
        unlisted = result.rowcount  # type: ignore[attr-defined]  # a CursorResult
    return SyncResult(listed=len(unique), unlisted=unlisted)


def sync_catalog(
    sessions: sessionmaker[Session], client: httpx.Client, base_url: str
) -> SyncResult:
    """The beat task's body: fetch (no transaction open), then upsert."""
    models = fetch_models(client, base_url)
    if not models:
        logger.warning("model listing at %s is empty; catalog left as it is", base_url)
        return SyncResult(listed=0, unlisted=0)
    with sessions.begin() as session:
        result = upsert_catalog(session, models, now=datetime.now(UTC))
    logger.info("model catalog: %d listed, %d unlisted", result.listed, result.unlisted)
    return result


def sync_catalog_when_due(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    base_url: str,
    redis_client: redis.Redis,
    *,
    max_age_s: float,
) -> SyncResult | None:
    """Sync unless a sync succeeded within `max_age_s` (None then). Beat asks far
    more often than that, so a sync that failed or whose message was lost with a
    worker is tried again at the next ask, not a whole `max_age_s` later. The mark
    of the last sync is in Redis and the catalog in Postgres: an empty catalog is
    synced whatever the mark says (a new database beside an old Redis)."""
    if redis_client.exists(redis_keys.catalog_synced()) and _has_listed_models(
        sessions
    ):
        return None
    result = sync_catalog(sessions, client, base_url)
    if result.listed:
        redis_client.set(redis_keys.catalog_synced(), "1", ex=max(1, round(max_age_s)))
    return result


def _has_listed_models(sessions: sessionmaker[Session]) -> bool:
    with sessions() as session:
        return (
            session.scalar(
                select(CatalogModel.id).where(CatalogModel.is_listed).limit(1)
            )
            is not None
        )


def seed_catalog(session: Session, snapshot: Path) -> SyncResult:
    """Load a saved `/api/v1/models` snapshot (e.g. the simulator's copy)."""
    models = load_snapshot(snapshot)
    return upsert_catalog(session, models, now=datetime.now(UTC), unlist_missing=False)


def load_catalog(session: Session) -> dict[str, ModelInfo]:
    """The listed models, by id, as routing reads them."""
    rows = session.scalars(select(CatalogModel).where(CatalogModel.is_listed))
    return {row.id: model_info_of(row) for row in rows}


def model_info_of(row: CatalogModel) -> ModelInfo:
    return ModelInfo(
        id=row.id,
        name=row.name,
        context_length=row.context_length,
        max_completion_tokens=row.max_completion_tokens,
        prompt_price=row.prompt_price,
        completion_price=row.completion_price,
        request_price=row.request_price,
        pricing={str(key): str(value) for key, value in row.pricing.items()},
        supported_parameters=None
        if row.supported_parameters is None
        else tuple(row.supported_parameters),
        created=row.created,
        output_modalities=None
        if row.output_modalities is None
        else tuple(row.output_modalities),
    )


def _parse_entries(entries: list[Any]) -> list[ModelInfo]:
    models = []
    for entry in entries:
        try:
            models.append(parse_model(entry))
        except (ValueError, TypeError, AttributeError):
            logger.warning("skipping an unreadable model entry: %.200r", entry)
    return models


def _row(model: ModelInfo, now: datetime) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name[:300],
        "context_length": model.context_length,
        "max_completion_tokens": model.max_completion_tokens,
        "prompt_price": model.prompt_price,
        "completion_price": model.completion_price,
        "request_price": model.request_price,
        "pricing": dict(model.pricing),
        "supported_parameters": None
        if model.supported_parameters is None
        else list(model.supported_parameters),
        "created": model.created,
        "output_modalities": None
        if model.output_modalities is None
        else list(model.output_modalities),
        "is_listed": True,
        "updated_at": now,
    }
