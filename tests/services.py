"""Real Postgres and Redis for integration and end-to-end tests.

From DATABASE_URL / REDIS_URL when set (CI points them at the machine's servers),
otherwise embedded servers started for the run. A test database is created fresh on
that server so a developer's own data is never touched.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import Engine, create_engine

from helixq.embedded import embedded_servers
from helixq.scratch_services import fresh_database, redis_database
from shared.db.session import psycopg_url

# Overridable so that two test runs on one machine do not share a database.
TEST_DATABASE = os.environ.get("HELIXQ_TEST_DATABASE", "helixq_test")
TEST_REDIS_DB = int(os.environ.get("HELIXQ_TEST_REDIS_DB", "15"))


@dataclass(frozen=True)
class Services:
    database_url: str  # a freshly migrated database owned by the test run
    redis_url: str  # a dedicated Redis database index


@contextmanager
def test_services() -> Iterator[Services]:
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if database_url and redis_url:
        yield _prepare(database_url, redis_url)
        return
    with embedded_servers(Path(tempfile.mkdtemp(prefix="helixq-test-"))) as urls:
        yield _prepare(database_url or urls.database_url, redis_url or urls.redis_url)


def _prepare(server_url: str, redis_url: str) -> Services:
    return Services(
        fresh_database(server_url, TEST_DATABASE),
        redis_database(redis_url, TEST_REDIS_DB),
    )


def separate_services(services: Services, name: str) -> Services:
    """Another freshly migrated database and a flushed Redis index on the same
    servers, for a second stack whose workers and sweeps must not take the first
    stack's jobs."""
    separate = Services(
        fresh_database(services.database_url, f"{TEST_DATABASE}_{name}"),
        redis_database(services.redis_url, (TEST_REDIS_DB - 1) % 16),
    )
    with redis.Redis.from_url(separate.redis_url) as client:
        client.flushdb()
    return separate


@contextmanager
def engine_on(database_url: str) -> Iterator[Engine]:
    """A SQLAlchemy engine on `database_url`, disposed on leaving."""
    engine = create_engine(psycopg_url(database_url))
    try:
        yield engine
    finally:
        engine.dispose()
