"""Schemathesis over the OpenAPI schema, in-process over ASGI: no answer is a 5xx.

Every operation gets valid and invalid inputs (a few examples each, so the run
stays well under a minute), after the explicit cases of the inputs and state the
search once found answering 5xx. Schemathesis's own pytest plugin does not run on
pytest 9 (it writes `Function._nodeid`), so the operations are walked here with
Hypothesis.
"""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import Engine

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, _new_tenant
from tests.job_rows import add_job_with_attempt
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

EXAMPLES_PER_OPERATION = 20
# Twice the suite's bound: the run makes 2 x 20 calls for every operation, so it
# grows with the API, and a slow machine must not cut it short.
pytestmark = pytest.mark.timeout(240)
SYNC_TIMEOUT_CODE = "timeout"  # /v1/chat/completions when no worker finishes the job
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)


# Dates whose period leaves the calendar (an OverflowError once).
_CALENDAR_ENDS = [{"to": "0001-01-01"}, {"to": "9999-12-31"}]
# (method, path) → query strings sent as they are, before the generated inputs.
EXPLICIT_QUERIES: dict[tuple[str, str], list[dict[str, str]]] = {
    ("GET", "/v1/usage"): _CALENDAR_ENDS,
    ("GET", "/admin/usage"): _CALENDAR_ENDS,
    # Read while _start_a_call left a model whose only attempt is in flight.
    ("GET", "/dashboard/data"): [{"window": window} for window in ("15m", "24h")],
}


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


def _start_a_call(engine: Engine, slug: str) -> None:
    """A job of the tenant whose model's one attempt is in flight: no latency yet."""
    add_job_with_attempt(
        engine,
        slug,
        status="running",
        model=f"test/{slug}-in-flight",
        attempt={"outcome": "started"},
    )


def _call(case: Any, token: str, found: list[str]) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    if _is_server_error(response):
        found.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")


def _call_explicit(operation: Any, token: str, found: list[str]) -> None:
    for query in EXPLICIT_QUERIES.get((operation.method.upper(), operation.path), []):
        _call(operation.Case(query=query), token, found)


def _fuzz(operation: Any, mode: GenerationMode, token: str, found: list[str]) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _call(case, token, found)

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE


def test_no_input_makes_the_api_answer_5xx(services: Services, engine: Engine) -> None:
    # Schemathesis runs the app's lifespan itself, once, for the rest of the process.
    app = create_app(_fuzz_settings(services), enqueuer=RecordingEnqueuer())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tenant = _new_tenant(engine)
    _start_a_call(engine, tenant.slug)
    found: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err would raise here, which is the point
    for operation in operations:
        token = ADMIN_TOKEN if operation.path.startswith("/admin") else tenant.key
        _call_explicit(operation, token, found)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, token, found)
    assert len(operations) > 20
    fuzzed = {(o.method.upper(), o.path) for o in operations}
    assert {("POST", "/v1/embeddings"), ("POST", "/v1/files")} <= fuzzed
    explicit = {(o.method.upper(), o.path) for o in operations} & set(EXPLICIT_QUERIES)
    assert explicit == set(EXPLICIT_QUERIES)  # a renamed route must not drop its cases
    assert found == []
