"""Models named in the environment, checked at start-up against the catalog in
Postgres (plain functions over a sync Session, like shared.tenancy)."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import CatalogModel
from shared.routing.validation import check_configured_models
from shared.settings import TenantSeed

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
