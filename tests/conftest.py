"""Fixtures shared by the integration and end-to-end layers (lazy: unit tests that
do not ask for them open no socket)."""

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from shared.db.session import psycopg_url
from tests.services import Services, test_services


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with test_services() as found:
        yield found


@pytest.fixture(scope="session")
def engine(services: Services) -> Iterator[Engine]:
    engine = create_engine(psycopg_url(services.database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        with Session(
            bind=connection,
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        ) as session:
            yield session
        outer.rollback()


@pytest.fixture
def redis_client(services: Services) -> Iterator["redis.Redis[bytes]"]:
    client: redis.Redis[bytes] = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    yield client
    client.close()
