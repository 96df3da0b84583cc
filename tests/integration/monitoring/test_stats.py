"""GET /v1/stats: per model and provider percentiles over a window."""

from datetime import UTC, datetime, timedelta

import pytest

from shared import redis_keys
from shared.upstream_health import UpstreamCheck
from tests.integration.monitoring.conftest import ADMIN_HEADERS, by_key

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-4o-mini"


def _recent(minutes: int = 5) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def test_stats_percentiles_of_known_latencies(api, tenant, add_attempt) -> None:
    for latency_ms in range(100, 1001, 100):  # 100 … 1000 ms, 10 answers
        add_attempt(
            tenant.slug,
            started_at=_recent(),
            latency_ms=latency_ms,
            completion_tokens=50,
        )
    add_attempt(  # failures count as requests, not in latency or throughput
        tenant.slug,
        started_at=_recent(),
        outcome="retryable",
        latency_ms=60_000,
        completion_tokens=None,
    )
    add_attempt(  # a call still in flight has no outcome to compare yet
        tenant.slug,
        started_at=_recent(),
        outcome="started",
        latency_ms=None,
        completion_tokens=None,
    )
    answer = await api.get("/v1/stats", params={"window": "1h"}, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    row = by_key(answer.json()["models"], "key")[(MODEL,)]
    assert row["requests"] == 11
    assert row["succeeded"] == 10
    assert row["success_rate"] == pytest.approx(10 / 11)
    assert row["latency_ms_p50"] == pytest.approx(550.0)  # percentile_cont
    assert row["latency_ms_p95"] == pytest.approx(955.0)
    assert row["latency_ms_p99"] == pytest.approx(991.0)
    assert row["tokens_per_s"] == pytest.approx(500 / 5.5)
    provider = by_key(answer.json()["providers"], "key")[("OpenAI",)]
    assert provider["requests"] == 11


async def test_stats_leave_out_calls_cut_off_by_a_stopping_worker(
    api, tenant, add_attempt
) -> None:
    add_attempt(tenant.slug, started_at=_recent(), latency_ms=400)
    add_attempt(  # its worker stopped: says nothing about the model
        tenant.slug,
        started_at=_recent(),
        outcome="interrupted",
        latency_ms=None,
        completion_tokens=None,
    )
    answer = await api.get("/v1/stats", params={"window": "1h"}, headers=tenant.headers)
    row = by_key(answer.json()["models"], "key")[(MODEL,)]
    assert (row["requests"], row["succeeded"]) == (1, 1)
    assert row["success_rate"] == 1.0


async def test_stats_window_and_tenant_bound_the_attempts(
    api, tenant, other_tenant, add_attempt
) -> None:
    add_attempt(tenant.slug, started_at=_recent(5))
    add_attempt(tenant.slug, started_at=_recent(120))  # outside a 1h window
    add_attempt(other_tenant.slug, started_at=_recent(5))
    answer = await api.get("/v1/stats", params={"window": "1h"}, headers=tenant.headers)
    assert by_key(answer.json()["models"], "key")[(MODEL,)]["requests"] == 1
    admin = await api.get(
        "/admin/stats", params={"window": "1h"}, headers=ADMIN_HEADERS
    )
    assert by_key(admin.json()["models"], "key")[(MODEL,)]["requests"] >= 2


async def test_stats_show_the_upstream_checks(api, tenant, redis_client) -> None:
    for ok in (False, True):  # newest pushed last
        check = UpstreamCheck(
            ok=ok,
            status=200 if ok else 503,
            latency_ms=40,
            checked_at=datetime.now(UTC),
            reason=None if ok else "HTTP 503",
        )
        redis_client.lpush(redis_keys.upstream_health_checks(), check.model_dump_json())
    upstream = (await api.get("/v1/stats", headers=tenant.headers)).json()["upstream"]
    assert upstream["status"] == "ok"
    assert [check["ok"] for check in upstream["checks"]] == [True, False]


async def test_stats_upstream_is_unknown_without_recent_checks(
    api, tenant, redis_client
) -> None:
    old = UpstreamCheck(
        ok=True,
        status=200,
        latency_ms=40,
        checked_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    redis_client.lpush(redis_keys.upstream_health_checks(), old.model_dump_json())
    upstream = (await api.get("/v1/stats", headers=tenant.headers)).json()["upstream"]
    assert upstream["status"] == "unknown"


@pytest.mark.parametrize("window", ["soon", "10s", "365d"])
async def test_stats_refuse_a_bad_window(api, tenant, window) -> None:
    answer = await api.get(
        "/v1/stats", params={"window": window}, headers=tenant.headers
    )
    assert answer.json()["error"]["code"] == "invalid_request"
