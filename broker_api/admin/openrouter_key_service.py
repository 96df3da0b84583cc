"""Use cases of the tenant OpenRouter key endpoints (shared.openrouter_key_store,
through run_sync): one function per change, each in its own transaction."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.admin.views import OpenRouterKeyView, ResealView
from shared.errors import SecretKeyNotSet
from shared.openrouter_key_store import (
    SECRET_KEY_MISSING,
    clear_openrouter_key,
    reseal_openrouter_keys,
    set_openrouter_key,
)
from shared.sealing import SecretBox
from shared.tenancy import find_tenant


async def show_key(session: AsyncSession, slug: str) -> OpenRouterKeyView:
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        return OpenRouterKeyView.of(tenant)


async def set_key(
    session: AsyncSession, slug: str, key: str, *, box: SecretBox | None
) -> OpenRouterKeyView:
    """Seal `key` as the tenant's OpenRouter key (a rotation when it had one)."""

    def work(sync: Session) -> OpenRouterKeyView:
        tenant = find_tenant(sync, slug)
        set_openrouter_key(tenant, key, box=box, now=datetime.now(UTC))
        sync.flush()
        return OpenRouterKeyView.of(tenant)

    async with session.begin():
        return await session.run_sync(work)


async def clear_key(session: AsyncSession, slug: str) -> OpenRouterKeyView:
    """The tenant's calls go out on OPENROUTER_API_KEY again."""

    def work(sync: Session) -> OpenRouterKeyView:
        tenant = find_tenant(sync, slug)
        clear_openrouter_key(tenant)
        sync.flush()
        return OpenRouterKeyView.of(tenant)

    async with session.begin():
        return await session.run_sync(work)


async def reseal(session: AsyncSession, *, box: SecretBox | None) -> ResealView:
    """Every stored key sealed again with the first key of HELIXQ_SECRET_KEY."""
    if box is None:
        raise SecretKeyNotSet(SECRET_KEY_MISSING)
    async with session.begin():
        done = await session.run_sync(reseal_openrouter_keys, box)
    return ResealView(resealed=done.resealed, unreadable=done.unreadable)
