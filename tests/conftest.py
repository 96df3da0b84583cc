"""Fixtures shared by the integration and end-to-end layers (lazy: unit tests that
do not ask for them open no socket)."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from shared.db.models import CatalogModel
from tests.services import Services, engine_on, test_services


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    with test_services() as found:
        yield found


@pytest.fixture(scope="session")
def engine(services: Services) -> Iterator[Engine]:
    with engine_on(services.database_url) as engine:
        yield engine


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


@pytest.fixture
def listed_model(engine: Engine) -> Iterator[str]:
    """The id of a model committed to the catalog (so the catalog is known), under
    an author of its own; deleted afterwards."""
    model_id = f"itest-{uuid.uuid4().hex[:8]}/steady-mini"
    with Session(engine) as session, session.begin():
        session.add(
            CatalogModel(
                id=model_id,
                name="Steady Mini",
                prompt_price=Decimal("0.0000001"),
                completion_price=Decimal("0.0000002"),
                pricing={"prompt": "0.0000001", "completion": "0.0000002"},
                updated_at=datetime.now(UTC),
            )
        )
    yield model_id
    with Session(engine) as session, session.begin():
        session.execute(delete(CatalogModel).where(CatalogModel.id == model_id))
