"""Make a database ready for the local stack: schema, seeded tenants, the demo key."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from helixq.state import read_secret, write_secret
from shared.configured_models import check_environment_models
from shared.db.migrate import upgrade_to_head
from shared.db.models import Tenant
from shared.db.session import make_engine, make_sessions
from shared.routing.catalog import ModelInfo, parse_models
from shared.settings import (
    DatabaseSettings,
    SealingSettings,
    TenantSeed,
    load_settings,
)
from shared.tenancy import (
    ENVIRONMENT_ACTOR,
    create_api_key,
    create_tenant,
    find_api_key,
    is_active_key,
    record_key_change,
    record_tenant_created,
    upsert_tenant_seeds,
)
from simulator.catalog import Catalog
from simulator.embeddings import LISTING_BODY as EMBEDDINGS_LISTING_BODY
from workers.maintenance.catalog_sync import upsert_catalog

DEMO_TENANT = "demo"
DEMO_KEY_NAME = "helixq up"


def prepare_database(
    database_url: str,
    *,
    seeds: list[TenantSeed],
    demo_key_file: Path,
    default_model: str | None = None,
    catalog: Sequence[ModelInfo] = (),
) -> None:
    """Migrate, add `catalog` to the model catalog, check the configured models
    against it, upsert the tenants named in the environment, ensure the demo key.

    Raises SettingsError (one line) before writing a tenant or a key when
    `default_model` (OPENROUTER_DEFAULT_MODEL) or a seed's default model is not
    listed.
    """
    upgrade_to_head(database_url)
    settings = load_settings(DatabaseSettings, database_url=database_url)
    engine = make_engine(settings)
    try:
        with make_sessions(engine).begin() as session:
            if catalog:
                upsert_catalog(
                    session, catalog, now=datetime.now(UTC), unlist_missing=False
                )
            check_environment_models(session, default_model=default_model)
            upsert_tenant_seeds(
                session, seeds, box=load_settings(SealingSettings).box()
            )
            ensure_demo_key(session, demo_key_file, now=datetime.now(UTC))
    finally:
        engine.dispose()


def simulator_models() -> list[ModelInfo]:
    """What the local simulator lists at /models: the catalog of a simulated stack,
    known before beat's first sync."""
    listed = parse_models(json.loads(Catalog.load().listing_body))
    return listed + parse_models(json.loads(EMBEDDINGS_LISTING_BODY))


def ensure_demo_key(session: Session, key_file: Path, *, now: datetime) -> bool:
    """Keep the key in `key_file` if it still works, else issue one. True if new."""
    tenant = session.scalar(select(Tenant).where(Tenant.slug == DEMO_TENANT))
    if tenant is None:
        tenant = create_tenant(session, DEMO_TENANT)
        record_tenant_created(session, ENVIRONMENT_ACTOR, tenant)
    stored = read_secret(key_file)
    if stored is not None and is_active_key(session, tenant, stored, now=now):
        return False
    issued = create_api_key(session, tenant, name=DEMO_KEY_NAME)
    api_key = find_api_key(session, tenant, issued.prefix)
    record_key_change(
        session, ENVIRONMENT_ACTOR, "key.create", api_key, tenant=tenant.slug
    )
    write_secret(key_file, issued.key)
    return True
