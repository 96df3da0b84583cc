"""The hot path (broker_api.hot_path) answers exactly as the FastAPI routes do:
the same status, headers and bytes for the same request, errors included."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest
import redis
from sqlalchemy import Engine, text

from broker_api import hot_path
from broker_api.app import create_app
from broker_api.hot_path import HotPath
from broker_api.settings import ApiSettings
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN, TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

pytestmark = pytest.mark.anyio
RESULT = {
    "id": "gen-1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hé ✓"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "cost": 0.00012},
}


class FinishingEnqueuer(RecordingEnqueuer):
    """Finishes each published job at once, as a quick worker would: `outcome`
    gives the columns it ends with."""

    def __init__(self, engine: Engine, services: Services) -> None:
        super().__init__()
        self.engine, self.services = engine, services
        self.outcome: dict[str, object] = {}

    async def enqueue_completions(self, job_ids, tenant_slug, priority):  # type: ignore[no-untyped-def]
        await super().enqueue_completions(job_ids, tenant_slug, priority)
        if self.outcome:
            await asyncio.to_thread(self._finish, list(job_ids))

    def _finish(self, job_ids: list[uuid.UUID]) -> None:
        columns = ", ".join(f"{name} = :{name}" for name in self.outcome)
        values = {
            name: json.dumps(value) if isinstance(value, dict) else value
            for name, value in self.outcome.items()
        }
        with self.engine.begin() as connection:
            for job_id in job_ids:
                connection.execute(
                    text(f"UPDATE jobs SET {columns} WHERE id = :id"),
                    {**values, "id": job_id},
                )
        publisher = redis.Redis.from_url(self.services.redis_url)
        for job_id in job_ids:
            publisher.publish(JOBS_FINISHED_CHANNEL, str(job_id))
        publisher.close()


@asynccontextmanager
async def _client(
    services: Services, enqueuer: RecordingEnqueuer, *, hot: bool
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_admin_token=ADMIN_TOKEN,
        helixq_seed_tenants=False,
    )
    app = create_app(settings, enqueuer=enqueuer)
    if not hot:  # the routes alone, as before the hot path
        app.user_middleware = [m for m in app.user_middleware if m.cls is not HotPath]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


Call = Callable[[httpx.AsyncClient], object]


async def _both(
    services: Services, enqueuer: RecordingEnqueuer, call: Callable
) -> tuple[httpx.Response, httpx.Response]:
    async with _client(services, enqueuer, hot=True) as hot:
        from_hot = await call(hot)
    async with _client(services, enqueuer, hot=False) as routes:
        from_routes = await call(routes)
    return from_hot, from_routes


def _same(hot: httpx.Response, routes: httpx.Response, *ignore: str) -> None:
    assert hot.status_code == routes.status_code
    assert hot.headers.get("content-type") == routes.headers.get("content-type")
    for name in ("location", "retry-after", "www-authenticate"):
        if name not in ignore:
            assert hot.headers.get(name) == routes.headers.get(name), name
    if "body" not in ignore:
        assert hot.content == routes.content


@pytest.fixture
def enqueuer(engine: Engine, services: Services) -> FinishingEnqueuer:
    return FinishingEnqueuer(engine, services)


async def test_an_accepted_job_is_answered_alike(
    services: Services,
    enqueuer: FinishingEnqueuer,
    tenant: TenantCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = make_job_body(custom_id="same-ü", metadata={"team": "✓"})
    answered = []
    submit_on_hot_path = hot_path._submit

    async def spy(*args):  # type: ignore[no-untyped-def]
        answered.append(True)
        return await submit_on_hot_path(*args)

    monkeypatch.setattr(hot_path, "_submit", spy)

    async def submit(api: httpx.AsyncClient) -> httpx.Response:
        return await api.post("/v1/jobs", json=body, headers=tenant.headers)

    hot, routes = await _both(services, enqueuer, submit)
    assert answered == [True]  # by the hot path, once: the routes answered the other
    _same(hot, routes, "location", "body")
    shapes = [{**r.json(), "id": "ID", "created_at": "T"} for r in (hot, routes)]
    assert shapes[0] == shapes[1]
    assert hot.headers["location"] == f"/v1/jobs/{hot.json()['id']}"


@pytest.mark.parametrize("query", ["", "?wait=0.2"])
async def test_a_job_is_read_alike(
    services: Services,
    enqueuer: FinishingEnqueuer,
    engine: Engine,
    tenant: TenantCredentials,
    query: str,
) -> None:
    async with _client(services, enqueuer, hot=True) as api:
        created = await api.post(
            "/v1/jobs", json=make_job_body(), headers=tenant.headers
        )
    job_id = created.json()["id"]
    with engine.begin() as connection:  # an ended job, with an attempt
        connection.execute(
            text(
                "UPDATE jobs SET status = 'failed',"
                " error_code = 'upstream_bad_request',"
                " error_message = 'key sk-or-v1-0123456789abcdef0123456789abcdef',"
                " cost_usd = :cost, prompt_tokens = 3, completion_tokens = 0"
                " WHERE id = :id"
            ),
            {"id": uuid.UUID(job_id), "cost": Decimal("0.000123000000")},
        )
        connection.execute(
            text(
                "INSERT INTO attempts (id, job_id, number, model, outcome, started_at)"
                " VALUES (:id, :job, 1, 'openai/gpt-4o-mini', 'permanent', now())"
            ),
            {"id": uuid.uuid4(), "job": uuid.UUID(job_id)},
        )

    async def read(api: httpx.AsyncClient) -> httpx.Response:
        return await api.get(f"/v1/jobs/{job_id}{query}", headers=tenant.headers)

    hot, routes = await _both(services, enqueuer, read)
    _same(hot, routes)
    assert "sk-or-v1-0123456789abcdef" not in hot.text  # redacted on both paths


@pytest.mark.parametrize(
    "body",
    [
        make_job_body(model="nobody/no-such-model"),
        make_job_body(route={"strategy": "cheapest"}),
        make_job_body(messages=[]),
        {"model": "x/y", "messages": "not a list"},
    ],
    ids=["unknown model", "unknown strategy", "no messages", "schema"],
)
async def test_refusals_are_answered_alike(
    services: Services,
    enqueuer: FinishingEnqueuer,
    tenant: TenantCredentials,
    listed_model: str,
    body: dict[str, object],
) -> None:
    async def submit(api: httpx.AsyncClient) -> httpx.Response:
        return await api.post("/v1/jobs", json=body, headers=tenant.headers)

    hot, routes = await _both(services, enqueuer, submit)
    assert hot.status_code == 422
    _same(hot, routes)


async def test_a_full_queue_is_answered_alike(
    services: Services, enqueuer: FinishingEnqueuer, tenant: TenantCredentials
) -> None:
    async def submit(api: httpx.AsyncClient) -> httpx.Response:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        limits = {"max_queued": 0}
        await api.put(
            f"/admin/tenants/{tenant.slug}/limits", json=limits, headers=admin
        )
        return await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)

    hot, routes = await _both(services, enqueuer, submit)
    assert hot.status_code == 429
    _same(hot, routes)


@pytest.mark.parametrize(
    "outcome",
    [
        {"status": "succeeded", "result": RESULT},
        {
            "status": "failed",
            "error_code": "upstream_rate_limited",
            "error_message": "slow down",
        },
    ],
    ids=["succeeded", "failed"],
)
async def test_a_synchronous_completion_is_answered_alike(
    services: Services,
    enqueuer: FinishingEnqueuer,
    tenant: TenantCredentials,
    outcome: dict[str, object],
) -> None:
    enqueuer.outcome = outcome

    async def complete(api: httpx.AsyncClient) -> httpx.Response:
        return await api.post(
            "/v1/chat/completions", json=make_job_body(), headers=tenant.headers
        )

    hot, routes = await _both(services, enqueuer, complete)
    _same(hot, routes)
    assert hot.headers["x-helixq-job-id"] != routes.headers["x-helixq-job-id"]
