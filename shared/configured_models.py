"""Models named in the environment, checked at start-up against the catalog in
Postgres (plain functions over a sync Session, like shared.tenancy)."""

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.db.models import CatalogModel
from shared.db.session import make_engine, make_sessions
from shared.routing.validation import check_configured_models
from shared.settings import DatabaseSettings, TenantSeed

logger = logging.getLogger(__name__)

DEFAULT_MODEL_VARIABLE = "OPENROUTER_DEFAULT_MODEL"


def listed_model_ids(session: Session) -> frozenset[str]:
    """The ids routing may use; empty until the catalog is first synced or seeded."""
    return frozenset(
        session.scalars(select(CatalogModel.id).where(CatalogModel.is_listed))
    )


def check_environment_models(
    session: Session,
    *,
    seeds: Sequence[TenantSeed] = (),
    default_model: str | None = None,
) -> None:
    """Raise SettingsError (one line naming each variable, with close matches) when
    OPENROUTER_DEFAULT_MODEL or a tenant's DEFAULT_MODEL is not listed; nothing is
    checked while the catalog is empty."""
    named = {DEFAULT_MODEL_VARIABLE: default_model}
    named |= {seed.variable("default_model"): seed.default_model for seed in seeds}
    if any(named.values()):
        check_configured_models(named, listed_model_ids(session))


def check_environment_models_at_start(
    settings: DatabaseSettings,
    *,
    seeds: Sequence[TenantSeed] = (),
    default_model: str | None = None,
) -> None:
    """`check_environment_models` on a connection of its own, for a process about
    to start. A catalog that cannot be read yet (database down, not migrated) is
    not known, like an empty one: nothing is refused, and a warning says so."""
    if default_model is None and not any(seed.default_model for seed in seeds):
        return
    engine = make_engine(settings)
    try:
        with make_sessions(engine)() as session:
            check_environment_models(session, seeds=seeds, default_model=default_model)
    except SQLAlchemyError as exc:
        logger.warning(
            "model catalog not readable (%s): configured models not checked",
            type(exc).__name__,
        )
    finally:
        engine.dispose()
