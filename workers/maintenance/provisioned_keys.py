"""Tenants' provisioned OpenRouter keys, kept in step with their budgets (beat).

With OPENROUTER_MANAGEMENT_KEY set, a tenant with a monthly budget and no key of
its own gets a key made for it at OpenRouter, limited to that budget and reset
monthly, so the upstream refuses its calls once the budget is spent whatever
helixq's own ledger says. A budget changed (or removed) changes the key's limit at
the next run. Keys an operator gave a tenant are left alone. No transaction is held
across a call to OpenRouter.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.budget_periods import BudgetPeriod
from shared.db.models import Tenant
from shared.openrouter_key_store import record_provisioned_limit, store_provisioned_key
from shared.rate_limits import tenant_limits
from shared.sealing import SecretBox
from shared.tenancy import find_tenant
from workers.openrouter.key_provisioning import ProvisioningApi, ProvisioningFailed

logger = logging.getLogger(__name__)

KEY_NAME_PREFIX = "helixq tenant "


@dataclass(frozen=True, slots=True)
class _Wanted:
    slug: str
    budget_usd: Decimal | None
    key_hash: str | None  # of the key helixq provisioned, if any
    limit_usd: Decimal | None  # the limit last given to it
    has_own_key: bool


@dataclass(frozen=True, slots=True)
class ProvisioningResult:
    created: int
    updated: int
    failed: int


def sync_provisioned_keys(
    sessions: sessionmaker[Session], api: ProvisioningApi, box: SecretBox
) -> ProvisioningResult:
    """Provision keys for tenants with a budget and none, and set the limit of
    those whose budget changed; a tenant the upstream refuses is logged and
    skipped until the next run."""
    with sessions() as session:
        wanted = [_wanted(tenant) for tenant in session.scalars(select(Tenant))]
    created = updated = failed = 0
    for tenant in wanted:
        try:
            if tenant.key_hash is None:
                created += _provision(sessions, api, box, tenant)
            elif tenant.limit_usd != tenant.budget_usd:
                api.set_limit(tenant.key_hash, tenant.budget_usd)
                with sessions.begin() as session:
                    record_provisioned_limit(
                        find_tenant(session, tenant.slug), tenant.budget_usd
                    )
                updated += 1
        except ProvisioningFailed as error:
            logger.warning("tenant %s: key not provisioned: %s", tenant.slug, error)
            failed += 1
    return ProvisioningResult(created=created, updated=updated, failed=failed)


def _wanted(tenant: Tenant) -> _Wanted:
    try:
        limits = tenant_limits(tenant.limits)
    except ValidationError:
        limits = None  # a row edited by hand: left as it is
    budget = None
    # The upstream limit resets monthly: a daily or weekly budget is kept by
    # helixq's own ledger alone, or a day's budget would be the month's.
    if limits is not None and limits.period is BudgetPeriod.MONTH:
        budget = limits.monthly_budget_usd
    return _Wanted(
        slug=tenant.slug,
        budget_usd=budget,
        key_hash=tenant.openrouter_key_provisioned_hash,
        limit_usd=tenant.openrouter_key_limit_usd,
        has_own_key=tenant.openrouter_key_label is not None,
    )


def _provision(
    sessions: sessionmaker[Session],
    api: ProvisioningApi,
    box: SecretBox,
    tenant: _Wanted,
) -> int:
    if tenant.has_own_key or tenant.budget_usd is None:
        return 0
    made = api.create(f"{KEY_NAME_PREFIX}{tenant.slug}", tenant.budget_usd)
    with sessions.begin() as session:
        row = find_tenant(session, tenant.slug)
        if row.openrouter_key_label is not None:  # an operator's key came first
            logger.warning(
                "tenant %s: a key was set meanwhile; the key provisioned at "
                "OpenRouter (%s) is unused",
                tenant.slug,
                made.key_hash,
            )
            return 0
        store_provisioned_key(
            row,
            made.key.get_secret_value(),
            key_hash=made.key_hash,
            limit_usd=tenant.budget_usd,
            box=box,
            now=datetime.now(UTC),
        )
    logger.info("tenant %s: OpenRouter key provisioned", tenant.slug)
    return 1
