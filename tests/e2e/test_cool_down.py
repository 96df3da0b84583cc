"""An upstream 429 cools the model down for every worker process, not only the one
that got it: two worker nodes (separate OS processes) share one cool-down."""

import json
from itertools import pairwise

import httpx
import pytest
import redis

from shared import redis_keys
from tests.e2e.conftest import Client, Stack
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.polling import wait_until
from tests.services import Services

pytestmark = pytest.mark.timeout(180)

MODEL = "sim/429"  # every call answers 429 with Retry-After: 1
COOL_DOWN_S = 1.0
JOBS = 6
# Answers of calls already in flight when a 429 arrived may come a little after
# it; anything later than this, and earlier than the cool-down's end, broke it.
IN_FLIGHT_SLACK_S = 0.3


def _node_is_up(services: Services, pid: int) -> bool:
    client = redis.Redis.from_url(services.redis_url)
    beats = client.scan_iter(redis_keys.worker_heartbeat_pattern())
    return any(json.loads(client.get(key) or "{}").get("pid") == pid for key in beats)


def _calls_of(stack: Stack, job_ids: list[str]) -> list[dict[str, object]]:
    answer = httpx.get(f"{stack.simulator_url}/_sim/calls?detail=1", timeout=10)
    calls: list[dict[str, object]] = answer.json()["calls"]
    return [call for call in calls if call["job_id"] in job_ids]


def test_a_429_holds_back_every_worker_process_until_the_cool_down_ends(
    stack: Stack, services: Services, tenant_client: Client
) -> None:
    pid = stack.start_worker("worker-b", "-p", "1", OPENROUTER_APP_TITLE="node-b")
    try:
        wait_until(
            lambda: _node_is_up(services, pid), timeout_s=60, what="the second node"
        )
        job_ids = [submit(tenant_client, model=MODEL) for _ in range(JOBS)]
        views = [wait_terminal(tenant_client, job_id, 90) for job_id in job_ids]
    finally:
        stack.processes.kill("worker-b")

    assert {view["error"]["code"] for view in views} == {"upstream_rate_limited"}
    calls = _calls_of(stack, job_ids)
    assert {call["status"] for call in calls} == {429}
    assert len({call["app"] for call in calls}) == 2  # both nodes called
    answered = sorted(float(call["ts"]) for call in calls)  # type: ignore[arg-type]
    gaps = [later - earlier for earlier, later in pairwise(answered)]
    # Calls come in bursts (the jobs waiting for the cool-down to end); within a
    # burst the answers are close, between bursts a whole cool-down passes.
    assert all(
        gap <= IN_FLIGHT_SLACK_S or gap >= COOL_DOWN_S - IN_FLIGHT_SLACK_S
        for gap in gaps
    ), gaps
    assert sum(gap >= COOL_DOWN_S - IN_FLIGHT_SLACK_S for gap in gaps) >= 3
