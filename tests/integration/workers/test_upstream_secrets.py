"""An upstream that quotes our request back (a 401 quoting the Authorization
header, a 502 whose plain text quotes the headers) leaves the key in no job, attempt
or webhook payload: upstream text is redacted before it is stored."""

import json
import uuid

import httpx
import pytest

from shared.settings import load_settings
from tests.factories import make_job_body
from tests.integration.workers.conftest import (
    BASE_URL,
    fetch_attempts,
    fetch_deliveries,
    fetch_job,
    set_tenant_webhook,
)
from tests.services import Services
from tests.unit.workers.payloads import error_body
from workers.jobs import transitions
from workers.jobs.endings import OutcomeKind
from workers.runtime.process import WorkerProcess
from workers.runtime.settings import WorkerSettings

pytestmark = pytest.mark.timeout(30)

# A configured key of no known shape: only its configured value can find it.
KEY = "or-live-integration-0123456789abcdefghij"
KEY_START = KEY[:12]
TENANT_URL = "https://hooks.example.com/tenant"


@pytest.fixture
def worker_settings(services: Services) -> WorkerSettings:
    return load_settings(
        WorkerSettings,
        database_url=services.database_url,
        redis_url=services.redis_url,
        openrouter_api_key=KEY,
        openrouter_base_url=BASE_URL,
        openrouter_max_retries=2,
        database_pool_size=2,
        database_max_overflow=2,
    )


def _run(ctx, job_id):
    return ctx.loop.run(ctx.completions.run(job_id))


def _answer(openrouter_mock, response: httpx.Response) -> None:
    openrouter_mock.post("/chat/completions").mock(return_value=response)


def _echoed_headers(request: httpx.Request) -> httpx.Response:
    quoted = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
    return httpx.Response(502, text=f"502 Bad Gateway\n{quoted}\n")


def _stored_text(engine, job_id) -> str:
    """Everything stored about the job that a tenant can be shown."""
    job = fetch_job(engine, job_id)
    attempts = [row.error_message for row in fetch_attempts(engine, job_id)]
    payloads = [row.payload for row in fetch_deliveries(engine, job_id)]
    return json.dumps([job.error_message, attempts, payloads])


@pytest.fixture
def single_model_job(make_job, tenant):
    """A job with one candidate model: a retryable error releases or fails it."""

    def insert(**columns):
        body = json.dumps(make_job_body(model=tenant["model"]))
        return make_job(request=body, **columns)

    return insert


def test_401_quoting_the_authorization_header_is_stored_without_the_key(
    worker_process, openrouter_mock, make_job, engine, tenant
):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)
    echo = error_body(401, f"Invalid credentials: Bearer {KEY}")
    _answer(openrouter_mock, httpx.Response(401, json=echo))
    job_id = make_job()

    assert _run(worker_process, job_id).kind is OutcomeKind.FAILED

    job = fetch_job(engine, job_id)
    assert job.error_code == "upstream_unauthorized"
    assert job.error_message == "Invalid credentials: Bearer ***"
    [delivery] = fetch_deliveries(engine, job_id)
    assert delivery.payload["data"]["error"]["message"] == job.error_message
    assert KEY_START not in _stored_text(engine, job_id)


def test_502_text_quoting_the_headers_is_stored_summarised_without_the_key(
    worker_process, openrouter_mock, single_model_job, engine, tenant
):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)
    openrouter_mock.post("/chat/completions").mock(side_effect=_echoed_headers)
    job_id = single_model_job(retries=worker_process.settings.openrouter_max_retries)

    assert _run(worker_process, job_id).kind is OutcomeKind.FAILED

    job = fetch_job(engine, job_id)
    assert job.error_code == "upstream_unavailable"
    assert job.error_message.startswith("OpenRouter answered 502 (")
    assert "authorization: Bearer ***" in job.error_message
    assert KEY_START not in _stored_text(engine, job_id)


def test_a_released_job_keeps_the_summary_without_the_key(
    worker_process, openrouter_mock, single_model_job, engine
):
    openrouter_mock.post("/chat/completions").mock(side_effect=_echoed_headers)
    job_id = single_model_job()

    assert _run(worker_process, job_id).kind is OutcomeKind.RETRY

    assert fetch_job(engine, job_id).error_message.startswith("OpenRouter answered")
    assert KEY_START not in _stored_text(engine, job_id)


async def _fail_with(ctx: WorkerProcess, job_id: uuid.UUID, message: str) -> None:
    async with ctx.db.connection() as conn:
        [job] = await transitions.claim_jobs(conn, [job_id], lease_s=60)
        await transitions.fail_job(
            conn, job, attempt=None, code="upstream_error", message=message
        )


def test_error_text_from_any_source_is_stored_without_secret_shapes(
    worker_process, make_job, engine
):
    job_id = make_job()

    worker_process.loop.run(
        _fail_with(worker_process, job_id, "said: Bearer sk-or-v1-0123456789abcdef")
    )

    assert fetch_job(engine, job_id).error_message == "said: Bearer ***"
