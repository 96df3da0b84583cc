"""Canary secrets through a job's success and failure paths never reach the logs."""

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from shared.logging_setup import LoggingSettings
from tests.integration.monitoring.log_capture import captured_logs
from tests.integration.monitoring.worker_logs.conftest import (
    OPENROUTER_KEY,
    TENANT_KEY,
    WEBHOOK_SECRET,
)
from tests.unit.workers.payloads import completion_body, error_body
from workers.jobs.endings import OutcomeKind

pytestmark = pytest.mark.timeout(30)

CANARIES = (OPENROUTER_KEY, TENANT_KEY, WEBHOOK_SECRET, "canaryOPENROUTERkey")


def _logging_settings() -> LoggingSettings:
    return LoggingSettings(
        helixq_log_format="json", openrouter_api_key=SecretStr(OPENROUTER_KEY)
    )


async def _careless(job_id) -> None:
    # What a careless log line inside a job could print.
    logging.getLogger("tests.careless").warning(
        "job %s headers %r secret %s key %s",
        job_id,
        {"Authorization": f"Bearer {OPENROUTER_KEY}"},
        WEBHOOK_SECRET,
        TENANT_KEY,
    )


def test_no_canary_in_logs_of_a_succeeded_and_a_failed_job(
    worker_process, openrouter_mock, make_job
) -> None:
    echo = f"invalid key {OPENROUTER_KEY}, secret {WEBHOOK_SECRET}, {TENANT_KEY}"
    openrouter_mock.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=completion_body()),
            httpx.Response(401, json=error_body(401, echo)),
        ]
    )
    body = {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": f"my key is {TENANT_KEY}"}],
    }
    succeeded, failed = make_job(request=json.dumps(body)), make_job()
    with captured_logs(_logging_settings()) as stream:
        for job_id in (succeeded, failed):
            outcome = worker_process.loop.run(worker_process.completions.run(job_id))
            worker_process.loop.run(_careless(job_id))
            assert outcome.kind in {OutcomeKind.SUCCEEDED, OutcomeKind.FAILED}
    text = stream.getvalue()
    assert text, "nothing was logged"
    for canary in CANARIES:
        assert canary not in text
    lines = [json.loads(line) for line in text.splitlines()]
    careless = [line for line in lines if line["logger"] == "tests.careless"]
    assert len(careless) == 2
    assert "Bearer ***'} secret whsec_*** key hqk_***" in careless[0]["message"]
    failure_lines = [line for line in lines if "failed" in line["message"]]
    assert failure_lines
    assert {line["job_id"] for line in failure_lines} == {str(failed)}
    assert all(line["tenant"] for line in failure_lines)
