"""Submit → per-tenant queue → worker → simulator → Postgres → poll, as processes."""

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Client, Stack
from tests.factories import make_job_body

pytestmark = pytest.mark.timeout(180)


def submit(client: Client, **overrides: Any) -> str:
    response = client.http.post("/v1/jobs", json=make_job_body(**overrides))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def wait_terminal(client: Client, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.http.get(f"/v1/jobs/{job_id}").json()
        if view["status"] in {"succeeded", "failed", "cancelled", "expired"}:
            return view
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished after {timeout_s}s: {view}")


def test_fifty_jobs_for_two_tenants_all_succeed_with_one_upstream_call_each(
    stack: Stack, tenant_client: Client, second_tenant_client: Client
) -> None:
    submitted = [
        (client, submit(client))
        for _ in range(25)
        for client in (tenant_client, second_tenant_client)
    ]
    views = [wait_terminal(client, job_id) for client, job_id in submitted]
    assert {view["status"] for view in views} == {"succeeded"}
    for view in views:
        assert Decimal(view["cost_usd"]) > 0
        assert view["model"] == "openai/gpt-4o-mini"
        assert view["provider"] == "OpenAI"
        assert view["usage"]["total_tokens"] > 0
        assert len(view["attempts"]) == 1
        assert view["result"]["choices"][0]["message"]["content"]
    by_job = stack.simulator_calls()["by_job"]
    assert isinstance(by_job, dict)
    assert [by_job.get(view["id"]) for view in views] == [1] * 50


def test_rate_limited_job_is_retried_and_succeeds(
    stack: Stack, tenant_client: Client
) -> None:
    view = wait_terminal(tenant_client, submit(tenant_client, model="sim/429-then-ok"))
    assert view["status"] == "succeeded"
    first, second = view["attempts"]
    assert (first["outcome"], first["http_status"]) == ("retryable", 429)
    assert (second["outcome"], second["http_status"]) == ("succeeded", 200)
    assert view["retries"] == 1


def test_permanent_upstream_error_fails_the_job_once(
    stack: Stack, tenant_client: Client
) -> None:
    view = wait_terminal(tenant_client, submit(tenant_client, model="sim/400"))
    assert view["status"] == "failed"
    assert view["error"]["code"] == "upstream_bad_request"
    assert len(view["attempts"]) == 1
    assert stack.simulator_calls()["by_job"][view["id"]] == 1  # type: ignore[index]


def test_worker_killed_mid_job_loses_nothing(
    stack: Stack, tenant_client: Client
) -> None:
    job_ids = [submit(tenant_client, model="sim/slow") for _ in range(3)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = [
            tenant_client.http.get(f"/v1/jobs/{j}").json()["status"] for j in job_ids
        ]
        if "running" in statuses:
            break
        time.sleep(0.1)
    stack.processes.kill("worker")
    stack.start_worker()
    views = [wait_terminal(tenant_client, job_id, timeout_s=90) for job_id in job_ids]
    assert [view["status"] for view in views] == ["succeeded"] * 3
    # Every call made is in the ledger, the killed ones included (written first).
    by_job = stack.simulator_calls()["by_job"]
    assert isinstance(by_job, dict)
    assert all(len(view["attempts"]) >= by_job[view["id"]] for view in views)
