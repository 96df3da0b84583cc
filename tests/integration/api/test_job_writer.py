"""JobWriter: concurrent submissions' rows go in shared statements, each caller
answered once its own row is committed; a bad row fails alone."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from broker_api.app import create_app
from broker_api.db_pool import Pool, open_pool
from broker_api.jobs import queries
from broker_api.jobs.writer import JobWriter
from broker_api.settings import ApiSettings
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(services: Services) -> AsyncIterator[Pool]:
    settings = ApiSettings(
        database_url=services.database_url, helixq_seed_tenants=False
    )
    pool = await open_pool(settings)
    yield pool
    await pool.close()


def _tenant_id(engine: Engine, tenant: TenantCredentials) -> uuid.UUID:
    with engine.connect() as connection:
        found: uuid.UUID = connection.execute(
            text("SELECT id FROM tenants WHERE slug = :s"), {"s": tenant.slug}
        ).scalar_one()
    return found


def _row(tenant_id: uuid.UUID) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "status": "queued",
        "request": {"model": "openai/gpt-4o-mini", "messages": []},
        "route": None,
        "custom_id": None,
        "metadata": {"k": "v"},
        "webhook_url": None,
        "priority": 3,
    }


def _stored(engine: Engine, ids: list[object]) -> int:
    with engine.connect() as connection:
        count: int = connection.execute(
            text("SELECT count(*) FROM jobs WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalar_one()
    return count


async def test_concurrent_rows_share_statements_and_are_all_committed(
    pool: Pool,
    engine: Engine,
    tenant: TenantCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statements: list[int] = []  # rows per INSERT
    insert_job, insert_jobs = queries.insert_job, queries.insert_jobs

    async def counting_one(connection, row):  # type: ignore[no-untyped-def]
        statements.append(1)
        return await insert_job(connection, row)

    async def counting_many(connection, rows):  # type: ignore[no-untyped-def]
        statements.append(len(rows))
        return await insert_jobs(connection, rows)

    monkeypatch.setattr(queries, "insert_job", counting_one)
    monkeypatch.setattr(queries, "insert_jobs", counting_many)
    writer = JobWriter(pool)
    rows = [_row(_tenant_id(engine, tenant)) for _ in range(40)]
    created = await asyncio.gather(*(writer.insert(row) for row in rows))
    assert len(created) == 40
    assert sum(statements) == 40
    assert len(statements) < 40  # grouped, not one statement a row
    assert _stored(engine, [row["id"] for row in rows]) == 40


async def test_a_row_postgres_refuses_fails_alone(
    pool: Pool, engine: Engine, tenant: TenantCredentials
) -> None:
    writer = JobWriter(pool)
    good = [_row(_tenant_id(engine, tenant)) for _ in range(5)]
    orphan = _row(uuid.uuid4())  # no such tenant: a foreign-key violation
    results = await asyncio.gather(
        *(writer.insert(row) for row in [*good[:2], orphan, *good[2:]]),
        return_exceptions=True,
    )
    assert isinstance(results[2], psycopg.IntegrityError)
    assert not any(isinstance(r, BaseException) for r in results[:2] + results[3:])
    assert _stored(engine, [row["id"] for row in good]) == 5
    assert _stored(engine, [orphan["id"]]) == 0


class CheckingEnqueuer(RecordingEnqueuer):
    """Records, for each job published, whether its row was already committed."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.committed: list[bool] = []

    async def enqueue_completions(self, job_ids, tenant_slug, priority):  # type: ignore[no-untyped-def]
        found = await asyncio.to_thread(_stored, self.engine, list(job_ids))
        self.committed.append(found == len(job_ids))
        await super().enqueue_completions(job_ids, tenant_slug, priority)


async def test_each_row_is_committed_before_its_job_is_published(
    services: Services, engine: Engine, tenant: TenantCredentials
) -> None:
    enqueuer = CheckingEnqueuer(engine)
    settings = ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_seed_tenants=False,
    )
    app = create_app(settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            responses = await asyncio.gather(
                *(
                    api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
                    for _ in range(20)
                )
            )
    assert {response.status_code for response in responses} == {202}
    assert enqueuer.committed == [True] * 20
