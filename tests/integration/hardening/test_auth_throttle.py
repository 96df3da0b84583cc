"""Guessing API keys is throttled per client address: 429 with Retry-After, for the
guesses only: a valid key always passes."""

import httpx
import pytest
import redis
from pydantic import SecretStr

from broker_api import auth_throttle
from broker_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, TenantCredentials

pytestmark = pytest.mark.anyio

METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture
def api_settings(api_settings: ApiSettings, redis_client: redis.Redis) -> ApiSettings:
    # redis_client flushes the test Redis db, so earlier failures do not count.
    return api_settings.model_copy(
        update={
            "helixq_auth_failures_per_minute": 3,
            "helixq_metrics_token": SecretStr(METRICS_TOKEN),
        }
    )


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every guess of a test falls in one window, even across a minute boundary."""
    monkeypatch.setattr(auth_throttle, "_window", lambda: (1, 30))


async def _guess(api: httpx.AsyncClient) -> httpx.Response:
    return await api.get(
        "/v1/jobs/x", headers={"Authorization": "Bearer hqk_00000000_wrong"}
    )


async def test_failed_keys_past_the_limit_answer_429_with_retry_after(
    api: httpx.AsyncClient,
) -> None:
    statuses = [(await _guess(api)).status_code for _ in range(3)]
    throttled = await _guess(api)
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_auth_failures"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60


async def test_a_throttled_address_still_passes_a_valid_key(
    api: httpx.AsyncClient, tenant: TenantCredentials
) -> None:
    """Tenants behind one NAT or proxy: anonymous guesses never lock them out."""
    for _ in range(4):
        await _guess(api)
    assert (await _guess(api)).status_code == 429
    response = await api.get("/v1/jobs/x", headers=tenant.headers)
    assert response.status_code == 404, response.text
    assert (await _guess(api)).status_code == 429


async def test_valid_keys_and_missing_keys_do_not_count(
    api: httpx.AsyncClient, tenant: TenantCredentials
) -> None:
    for _ in range(5):
        assert (await api.get("/v1/jobs/x", headers=tenant.headers)).status_code == 404
        assert (await api.get("/v1/jobs/x")).status_code == 401
    assert (await _guess(api)).status_code == 401


async def test_admin_token_guesses_are_throttled_too(api: httpx.AsyncClient) -> None:
    wrong = {"Authorization": "Bearer not-the-admin-token"}
    statuses = [
        (await api.get("/admin/tenants", headers=wrong)).status_code for _ in range(3)
    ]
    throttled = await api.get("/admin/tenants", headers=wrong)
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_auth_failures"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (await api.get("/admin/tenants", headers=admin)).status_code == 200


async def test_metrics_token_guesses_are_throttled_too(api: httpx.AsyncClient) -> None:
    wrong = {"Authorization": "Bearer not-the-metrics-token"}
    statuses = [
        (await api.get("/metrics", headers=wrong)).status_code for _ in range(3)
    ]
    throttled = await api.get("/metrics", headers=wrong)
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    right = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert (await api.get("/metrics", headers=right)).status_code == 200
