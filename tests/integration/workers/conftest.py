"""Worker integration fixtures: a real WorkerProcess on the test Postgres and Redis,
with OpenRouter replaced by respx routes, and committed rows cleaned up after."""

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
import respx
from sqlalchemy import Engine, text

from shared.settings import load_settings
from tests.factories import make_job_body, unique_name
from tests.services import Services
from workers.runtime.process import WorkerProcess, build_process
from workers.runtime.settings import WorkerSettings

BASE_URL = "https://openrouter.test/api/v1"
BATCH_API_URL = "http://batch-api.test/api/v1"


@pytest.fixture
def openrouter_mock() -> respx.MockRouter:
    """Routes standing in for OpenRouter."""
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture
def batch_api() -> Iterator[respx.MockRouter]:
    """Routes standing in for OpenRouter's Batch API at BATCH_API_URL. Rows other
    tests committed are polled too: unmocked calls get an empty 200, which the
    client reads as an outage and leaves for later."""
    with respx.mock(
        base_url=BATCH_API_URL, assert_all_called=False, assert_all_mocked=False
    ) as router:
        yield router


@pytest.fixture
def worker_settings(services: Services) -> WorkerSettings:
    return load_settings(
        WorkerSettings,
        database_url=services.database_url,
        redis_url=services.redis_url,
        openrouter_api_key="sk-or-v1-integration",
        openrouter_base_url=BASE_URL,
        openrouter_max_retries=2,
        database_pool_size=2,
        database_max_overflow=2,
    )


class ListSender:
    """A JobSender keeping what it was asked to publish."""

    def __init__(self) -> None:
        self.sent: list[tuple[uuid.UUID, str, float | None]] = []

    def send(
        self, job_id: uuid.UUID, queue: str, *, countdown_s: float | None = None
    ) -> None:
        self.sent.append((job_id, queue, countdown_s))


@pytest.fixture
def sender() -> ListSender:
    """Where the worker publishes retries (and the sweeper its re-sends)."""
    return ListSender()


class ListDeliverySender:
    """A DeliverySender keeping the delivery ids it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[uuid.UUID] = []

    def send(self, delivery_id: uuid.UUID, *, countdown_s: float = 0) -> None:
        self.sent.append(delivery_id)


@pytest.fixture
def deliveries() -> ListDeliverySender:
    """Where the worker sends webhook deliveries."""
    return ListDeliverySender()


class ListPublisher:
    """The event loop's TaskPublisher, keeping what it publishes in the lists of
    `sender` (retries) and `deliveries`."""

    def __init__(self, sender: ListSender, deliveries: ListDeliverySender) -> None:
        self._sender = sender
        self._deliveries = deliveries

    async def retry(
        self, job_id: uuid.UUID, queue: str, *, countdown_s: float | None
    ) -> None:
        self._sender.send(job_id, queue, countdown_s=countdown_s)

    async def delivery(self, delivery_id: uuid.UUID) -> None:
        self._deliveries.send(delivery_id)


@pytest.fixture
def worker_process(
    worker_settings: WorkerSettings,
    openrouter_mock: respx.MockRouter,
    sender: ListSender,
    deliveries: ListDeliverySender,
    redis_client: "redis.Redis[bytes]",  # flushed: no cool-down or bucket leaks in
) -> Iterator[WorkerProcess]:
    """A real WorkerProcess whose HTTP goes to `openrouter_mock`."""
    context = _process(worker_settings, openrouter_mock, sender, deliveries)
    yield context
    context.close()


def _process(
    settings: WorkerSettings,
    openrouter_mock: respx.MockRouter,
    sender: ListSender,
    deliveries: ListDeliverySender,
) -> WorkerProcess:
    return build_process(
        settings,
        sender=sender,
        deliveries=deliveries,
        transport=httpx.MockTransport(openrouter_mock.async_handler),
        publisher=ListPublisher(sender, deliveries),
    )


@pytest.fixture
def make_context(worker_settings, openrouter_mock, redis_client):
    """Independent worker contexts (as separate processes have) on one Redis:
    `make_context(sender=None, **settings_overrides)`."""
    contexts = []

    def build(sender=None, **overrides):
        settings = worker_settings.model_copy(update=overrides)
        context = _process(
            settings, openrouter_mock, sender or ListSender(), ListDeliverySender()
        )
        contexts.append(context)
        return context

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def make_tenant(engine: Engine) -> Iterator[Callable[[], dict[str, Any]]]:
    """Insert committed tenants; deleting them at the end removes their jobs."""
    created: list[uuid.UUID] = []

    def insert() -> dict[str, Any]:
        values = {
            "id": uuid.uuid4(),
            "slug": unique_name("w"),
            "model": "openai/gpt-4o",
        }
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, default_model)"
                    " VALUES (:id, :slug, :slug, :model)"
                ),
                values,
            )
        created.append(values["id"])
        return values

    yield insert
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": created}
        )


@pytest.fixture
def tenant(make_tenant: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One committed tenant."""
    return make_tenant()


@pytest.fixture
def make_job(engine: Engine, tenant: dict[str, Any]) -> Callable[..., uuid.UUID]:
    """Insert a committed job for `tenant`: `make_job(status=..., available_at=...)`."""

    def insert(**columns: Any) -> uuid.UUID:
        job_id = uuid.uuid4()
        values = {
            "id": job_id,
            "tenant_id": tenant["id"],
            "status": "queued",
            "request": json.dumps(make_job_body()),
            **columns,
        }
        names = ", ".join(values)
        params = ", ".join(
            "CAST(:request AS jsonb)" if name == "request" else f":{name}"
            for name in values
        )
        with engine.begin() as connection:
            connection.execute(
                text(f"INSERT INTO jobs ({names}) VALUES ({params})"), values
            )
        return job_id

    return insert


@pytest.fixture
def priced_model(engine: Engine) -> Iterator[str]:
    """A committed catalog model at $1 per million prompt and $2 per million
    completion tokens, removed afterwards."""
    model_id = f"{unique_name('author')}/priced"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO models (id, name, prompt_price, completion_price, pricing)"
                " VALUES (:id, :id, 0.000001, 0.000002, CAST('{}' AS jsonb))"
            ),
            {"id": model_id},
        )
    yield model_id
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM models WHERE id = :id"), {"id": model_id})


@pytest.fixture
def make_batch(engine: Engine, tenant: dict[str, Any]) -> Callable[..., uuid.UUID]:
    """Insert a committed in-progress batch for `tenant` (`total` and `expires_at`
    as given); its items are `make_job(batch_id=...)`."""

    def insert(*, total: int, expires_at: datetime, **columns: Any) -> uuid.UUID:
        values = {
            "id": uuid.uuid4(),
            "tenant_id": tenant["id"],
            "status": "in_progress",
            "completion_window_s": 3600,
            "total": total,
            "expires_at": expires_at,
            "in_progress_at": datetime.now(UTC),
            **columns,
        }
        names = ", ".join(values)
        params = ", ".join(f":{name}" for name in values)
        with engine.begin() as connection:
            connection.execute(
                text(f"INSERT INTO batches ({names}) VALUES ({params})"), values
            )
        return values["id"]

    return insert


def set_tenant_webhook(engine: Engine, tenant_id: uuid.UUID, url: str | None) -> None:
    """Give the tenant a default webhook URL (or take it away)."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET webhook_url = :url WHERE id = :id"),
            {"url": url, "id": tenant_id},
        )


def fetch_deliveries(engine: Engine, resource_id: uuid.UUID) -> list[Any]:
    """The outbox rows of one job or batch."""
    query = "SELECT * FROM webhook_deliveries WHERE resource_id = :id"
    return _fetch_rows(engine, query, resource_id)


def fetch_job(engine: Engine, job_id: uuid.UUID) -> Any:
    """The job row as it is now."""
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM jobs WHERE id = :id"), {"id": job_id}
        ).one()


def insert_attempt(
    engine: Engine,
    job_id: uuid.UUID | str,
    *,
    outcome: str = "succeeded",
    cost_usd: Decimal | None = None,
    started_at: datetime | None = None,
) -> None:
    """Record a call of the job directly (model openai/gpt-4o-mini, 300 ms unless
    still `started`)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO attempts (id, job_id, number, model, outcome, cost_usd,"
                " latency_ms, started_at) VALUES (:id, :job_id, 1,"
                " 'openai/gpt-4o-mini', :outcome, :cost, :latency_ms, :started_at)"
            ),
            {
                "id": uuid.uuid4(),
                "job_id": job_id,
                "outcome": outcome,
                "cost": cost_usd,
                "latency_ms": None if outcome == "started" else 300,
                "started_at": started_at or datetime.now(UTC),
            },
        )


def fetch_attempts(engine: Engine, job_id: uuid.UUID) -> list[Any]:
    """The job's attempts, in order."""
    query = "SELECT * FROM attempts WHERE job_id = :id ORDER BY number"
    return _fetch_rows(engine, query, job_id)


def _fetch_rows(engine: Engine, query: str, row_id: uuid.UUID) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(query), {"id": row_id}))
