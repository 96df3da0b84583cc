"""API keys are checked against Postgres at most once per HELIXQ_AUTH_CACHE_S in
each API process, and a revoked key stops working within that bound in all of
them; helixq's own changes reach every process at once."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import Engine, text

from helixq.cli import main
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN, TenantCredentials, api_process
from tests.services import Services

pytestmark = pytest.mark.anyio
NOTICE_WAIT_S = 3.0


async def _submit(api: httpx.AsyncClient, tenant: TenantCredentials) -> int:
    response = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    return response.status_code


def _revoke_in_sql(engine: Engine, tenant: TenantCredentials) -> None:
    """A revocation helixq is not told of (SQL by hand): no notice is sent."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE prefix = :p"),
            {"p": tenant.key[:12]},
        )


async def _eventually(check: Callable[[], Awaitable[bool]], within_s: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_checked_key_is_not_read_from_postgres_again_within_the_bound(
    services: Services, engine: Engine, tenant: TenantCredentials
) -> None:
    async with api_process(services, cache_s=10) as api:
        assert await _submit(api, tenant) == 202
        _revoke_in_sql(engine, tenant)
        # Still trusted: the row was not read again.
        assert await _submit(api, tenant) == 202


async def test_a_key_revoked_in_postgres_stops_working_within_the_bound(
    services: Services, engine: Engine, tenant: TenantCredentials
) -> None:
    async with api_process(services, cache_s=0.5) as api:
        assert await _submit(api, tenant) == 202
        _revoke_in_sql(engine, tenant)
        await asyncio.sleep(0.6)
        response = await api.post(
            "/v1/jobs", json=make_job_body(), headers=tenant.headers
        )
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "this API key has been revoked"


async def test_helixq_keys_revoke_reaches_every_api_process_at_once(
    services: Services,
    tenant: TenantCredentials,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("REDIS_URL", services.redis_url)
    async with (
        api_process(services, cache_s=10) as first,
        api_process(services, cache_s=10) as second,
    ):
        assert await _submit(first, tenant) == await _submit(second, tenant) == 202
        assert await asyncio.to_thread(main, ["keys", "revoke", tenant.key[:12]]) == 0
        assert "Redis unreachable" not in capsys.readouterr().err
        for api in (first, second):

            async def refused(api: httpx.AsyncClient = api) -> bool:
                return await _submit(api, tenant) == 401

            assert await _eventually(refused, NOTICE_WAIT_S)


async def test_new_limits_apply_at_once_in_everyapi_process(
    services: Services, tenant: TenantCredentials
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        api_process(services, cache_s=10) as first,
        api_process(services, cache_s=10) as second,
    ):
        assert await _submit(first, tenant) == await _submit(second, tenant) == 202
        limits = {"max_queued": 1}
        response = await first.put(
            f"/admin/tenants/{tenant.slug}/limits", json=limits, headers=admin
        )
        assert response.status_code == 200

        async def queue_full() -> bool:
            return await _submit(second, tenant) == 429

        assert await _eventually(queue_full, NOTICE_WAIT_S)


@pytest.mark.parametrize("by", ["admin", "tenant"])
async def test_a_key_revoked_over_the_api_stops_in_every_api_process_at_once(
    services: Services, tenant: TenantCredentials, by: str
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    prefix = tenant.key[:12]
    async with (
        api_process(services, cache_s=10) as first,
        api_process(services, cache_s=10) as second,
    ):
        assert await _submit(first, tenant) == await _submit(second, tenant) == 202
        if by == "admin":
            path, headers = f"/admin/tenants/{tenant.slug}/keys/{prefix}", admin
        else:
            path, headers = f"/v1/keys/{prefix}", tenant.headers
        assert (await first.delete(path, headers=headers)).status_code == 200

        async def refused() -> bool:
            return await _submit(second, tenant) == 401

        assert await _eventually(refused, NOTICE_WAIT_S)
