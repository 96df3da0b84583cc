"""A worker stopped by SIGTERM or Ctrl-C (SIGINT) while calls are in flight: calls
that end within the grace period finish their jobs; the others are cut off, their
attempts `interrupted` (not a failure of the model) and their jobs queued again, so
the restarted worker runs them at once instead of after the lease."""

import signal
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Client, Stack
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(180)

# Calls that answer within the grace (the simulator's `slow`: 3 s) and calls that
# outlast it (`hang`: 300 s), on two models so that each job knows which it gets.
FINISHING_MODEL = "mistralai/mistral-nemo"
CUT_OFF_MODEL = "meta-llama/llama-3.1-8b-instruct"
STOP_GRACE_S = 5.0
# The lease is long, so that only the worker's own release can explain a quick rerun.
WORKER_ENV = {
    "HELIXQ_JOB_LEASE_S": "120",
    "OPENROUTER_TIMEOUT": "60",
    "HELIXQ_WORKER_STOP_GRACE_S": str(STOP_GRACE_S),
}
RERUN_WITHIN_S = 20.0


def _script(stack: Stack, model: str, responses: list[str]) -> None:
    response = httpx.post(
        f"{stack.simulator_url}/_sim/script",
        json={"model": model, "responses": responses},
        timeout=5,
    )
    response.raise_for_status()


def _view(client: Client, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = client.http.get(f"/v1/jobs/{job_id}").json()
    return view


def _calling(client: Client, job_id: str) -> bool:
    return any(a["outcome"] == "started" for a in _view(client, job_id)["attempts"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_worker_leaves_cut_off_calls_interrupted_and_their_jobs_queued(
    stack: Stack, tenant_client: Client, signum: signal.Signals
) -> None:
    stack.processes.kill("worker")
    try:
        stack.start_worker("worker", **WORKER_ENV)
        _script(stack, FINISHING_MODEL, ["slow", "slow"])
        _script(stack, CUT_OFF_MODEL, ["hang", "hang"])
        finishing = [submit(tenant_client, model=FINISHING_MODEL) for _ in range(2)]
        cut_off = [submit(tenant_client, model=CUT_OFF_MODEL) for _ in range(2)]
        wait_until(
            lambda: all(_calling(tenant_client, j) for j in finishing + cut_off),
            timeout_s=30,
            what="every call in flight",
        )

        stopping_at = time.monotonic()
        stack.processes.kill("worker", signum, grace_s=30)  # SIGKILL after the grace
        stopped_in_s = time.monotonic() - stopping_at

        assert stopped_in_s < STOP_GRACE_S + 10
        for job_id in finishing:
            view = _view(tenant_client, job_id)
            assert view["status"] == "succeeded"
            assert [a["outcome"] for a in view["attempts"]] == ["succeeded"]
        for job_id in cut_off:
            view = _view(tenant_client, job_id)
            assert view["status"] == "queued"
            [attempt] = view["attempts"]
            assert attempt["outcome"] == "interrupted"
            assert attempt["error"]["code"] == "worker_stopped"

        restarted_at = time.monotonic()
        stack.start_worker("worker", **WORKER_ENV)
        views = [wait_terminal(tenant_client, job_id) for job_id in cut_off]

        assert time.monotonic() - restarted_at < RERUN_WITHIN_S
        for view in views:
            assert view["status"] == "succeeded"
            assert view["retries"] == 0  # a stopped worker is not the job's failure
            outcomes = [a["outcome"] for a in view["attempts"]]
            assert outcomes == ["interrupted", "succeeded"]
            codes = {(a["error"] or {}).get("code") for a in view["attempts"]}
            assert "upstream_timeout" not in codes
    finally:
        if "worker" in stack.processes.names:
            stack.processes.kill("worker")
        stack.start_worker()
