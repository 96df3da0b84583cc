"""Use cases of the tenant OpenRouter key endpoints (shared.openrouter_key_store,
through run_sync): one function per change, each in its own transaction."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.admin.views import OpenRouterKeyView, ResealView
from shared import audit
from shared.db.models import Tenant
from shared.errors import SecretKeyNotSet
from shared.openrouter_key_store import (
    SECRET_KEY_MISSING,
    clear_openrouter_key,
    reseal_on_record,
    set_openrouter_key,
)
from shared.sealing import SecretBox
from shared.tenancy import find_tenant


async def show_key(session: AsyncSession, slug: str) -> OpenRouterKeyView:
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        return OpenRouterKeyView.of(tenant)


async def set_key(
    session: AsyncSession,
    actor: audit.Actor,
    slug: str,
    key: str,
    *,
    box: SecretBox | None,
) -> OpenRouterKeyView:
    """Seal `key` as the tenant's OpenRouter key (a rotation when it had one)."""

    def work(sync: Session) -> OpenRouterKeyView:
        tenant = find_tenant(sync, slug)
        before = OpenRouterKeyView.of(tenant)
        set_openrouter_key(tenant, key, box=box, now=datetime.now(UTC))
        sync.flush()
        return _recorded(sync, actor, "tenant.openrouter_key.set", before, tenant)

    async with session.begin():
        return await session.run_sync(work)


async def clear_key(
    session: AsyncSession, actor: audit.Actor, slug: str
) -> OpenRouterKeyView:
    """The tenant's calls go out on OPENROUTER_API_KEY again."""

    def work(sync: Session) -> OpenRouterKeyView:
        tenant = find_tenant(sync, slug)
        before = OpenRouterKeyView.of(tenant)
        clear_openrouter_key(tenant)
        sync.flush()
        return _recorded(sync, actor, "tenant.openrouter_key.clear", before, tenant)

    async with session.begin():
        return await session.run_sync(work)


async def reseal(
    session: AsyncSession, actor: audit.Actor, *, box: SecretBox | None
) -> ResealView:
    """Every stored key sealed again with the first key of HELIXQ_SECRET_KEY."""
    if box is None:
        raise SecretKeyNotSet(SECRET_KEY_MISSING)

    async with session.begin():
        done = await session.run_sync(reseal_on_record, box, actor)
    return ResealView(resealed=done.resealed, unreadable=done.unreadable)


def _recorded(
    sync: Session,
    actor: audit.Actor,
    action: str,
    before: OpenRouterKeyView,
    tenant: Tenant,
) -> OpenRouterKeyView:
    """The tenant's key as it now is, its change in the audit trail (hints and
    labels only: the key itself is in neither view)."""
    after = OpenRouterKeyView.of(tenant)
    audit.record(
        sync,
        actor,
        action,
        target=f"tenant:{tenant.slug}",
        tenant=tenant.slug,
        before=before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )
    return after
