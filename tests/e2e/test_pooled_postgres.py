"""Postgres behind pgbouncer in transaction mode (Debian's 1.18, which does not
carry prepared statements across server connections): with
`DATABASE_PREPARED_STATEMENTS=false` the whole job path runs through it."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from shared.db.session import connect_options
from shared.settings import DatabaseSettings
from tests.e2e.conftest import Client, Stack, _tenant_client, own_stack
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.pgbouncer import Pgbouncer, pgbouncer, require_pgbouncer
from tests.services import Services, engine_on, separate_services

pytestmark = pytest.mark.timeout(180)

# Fewer server connections than the API's and the worker's pools hold: every
# transaction may land on another server connection than the one before.
SERVER_CONNECTIONS = 3
JOBS_PER_TENANT = 30


def _options(url: str, *, prepared: bool) -> dict[str, Any]:
    settings = DatabaseSettings(database_url=url, database_prepared_statements=prepared)
    return connect_options(settings)


@pytest.fixture(scope="module")
def pooled_services(services: Services) -> Services:
    """Its own database and Redis index: the session's stack must not take these
    jobs over a direct connection."""
    require_pgbouncer()
    pooled = separate_services(services, "pooled")
    return pooled


@pytest.fixture(scope="module")
def bouncer(pooled_services: Services) -> Iterator[Pgbouncer]:
    with pgbouncer(pooled_services.database_url, pool_size=SERVER_CONNECTIONS) as up:
        yield up


@pytest.fixture(scope="module")
def pooled_engine(pooled_services: Services) -> Iterator[Engine]:
    with engine_on(pooled_services.database_url) as engine:
        yield engine


@pytest.fixture(scope="module")
def pooled_stack(pooled_services: Services, bouncer: Pgbouncer) -> Iterator[Stack]:
    env = {"DATABASE_URL": bouncer.url, "DATABASE_PREPARED_STATEMENTS": "false"}
    with own_stack(pooled_services, "pooled", env, beat=True) as stack:
        yield stack


@contextmanager
def _two_clients_one_server_connection(
    services: Services, *, prepared: bool
) -> Iterator[tuple[psycopg.Connection[Any], psycopg.Connection[Any]]]:
    """Two clients on one server connection: what transaction pooling does under
    load. Each client names its first prepared statement the same way."""
    with pgbouncer(services.database_url, pool_size=1) as single:
        options = _options(single.url, prepared=prepared)
        with (
            psycopg.connect(single.url, autocommit=True, **options) as first,
            psycopg.connect(single.url, autocommit=True, **options) as second,
        ):
            yield first, second


def test_prepared_statements_break_on_a_shared_server_connection(
    pooled_services: Services,
) -> None:
    with _two_clients_one_server_connection(pooled_services, prepared=True) as (
        first,
        second,
    ):
        first.execute("SELECT 1", prepare=True)
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            second.execute("SELECT 2", prepare=True)


def test_without_prepared_statements_a_shared_server_connection_works(
    pooled_services: Services,
) -> None:
    with _two_clients_one_server_connection(pooled_services, prepared=False) as (
        first,
        second,
    ):
        for _ in range(10):  # past psycopg's own threshold for preparing
            assert first.execute("SELECT 1", prepare=True).fetchone() == (1,)
            assert second.execute("SELECT 2", prepare=True).fetchone() == (2,)


def test_jobs_of_two_tenants_run_through_pgbouncer(
    pooled_stack: Stack, pooled_engine: Engine
) -> None:
    clients: list[Client] = [
        _tenant_client(pooled_engine, pooled_stack) for _ in range(2)
    ]
    try:
        submitted = [
            (client, submit(client))
            for _ in range(JOBS_PER_TENANT)
            for client in clients
        ]
        views = [wait_terminal(client, job_id) for client, job_id in submitted]
    finally:
        for client in clients:
            client.http.close()
    assert {view["status"] for view in views} == {"succeeded"}
    by_job = pooled_stack.simulator_calls()["by_job"]
    assert isinstance(by_job, dict)
    assert [by_job.get(view["id"]) for view in views] == [1] * len(views)
