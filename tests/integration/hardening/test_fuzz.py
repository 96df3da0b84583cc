"""Schemathesis over the OpenAPI schema, in-process over ASGI: no answer is a 5xx.

Every operation gets valid and invalid inputs (a few examples each, so the run
stays well under a minute). Schemathesis's own pytest plugin does not run on pytest
9 (it writes `Function._nodeid`), so the operations are walked here with Hypothesis.
"""

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import Engine

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, _new_tenant
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

EXAMPLES_PER_OPERATION = 20
SYNC_TIMEOUT_CODE = "timeout"  # /v1/chat/completions when no worker finishes the job
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)


@schemathesis.serializer("application/jsonl")
def _jsonl(_ctx: Any, value: Any) -> bytes:
    """A JSONL upload is a string in the schema: send it as it is."""
    return value if isinstance(value, bytes) else str(value).encode()


def _fuzz_settings(services: Services) -> ApiSettings:
    return ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_admin_token=ADMIN_TOKEN,
        helixq_seed_tenants=False,
        helixq_max_body_bytes=64 * 1024,
        helixq_sync_timeout_s=0.05,
        helixq_long_poll_max_s=0.05,
    )


def _is_server_error(response: Any) -> bool:
    if response.status_code == 503 and response.json().get("status") == "not_ready":
        return False  # /readyz's contract: no worker is running in this test
    if response.status_code == 504:
        return bool(response.json()["error"]["code"] != SYNC_TIMEOUT_CODE)
    return bool(response.status_code >= 500)


def _fuzz(operation: Any, mode: GenerationMode, token: str, found: list[str]) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        if _is_server_error(response):
            found.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE


def test_no_input_makes_the_api_answer_5xx(services: Services, engine: Engine) -> None:
    # Schemathesis runs the app's lifespan itself, once, for the rest of the process.
    app = create_app(_fuzz_settings(services), enqueuer=RecordingEnqueuer())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tenant_key = _new_tenant(engine).key
    found: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err would raise here, which is the point
    for operation in operations:
        token = ADMIN_TOKEN if operation.path.startswith("/admin") else tenant_key
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, token, found)
    assert len(operations) > 20
    assert found == []
