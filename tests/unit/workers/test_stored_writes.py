"""A call's answer is stored even when Postgres goes away for a while."""

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace
from uuid import uuid4

import psycopg
import pytest

from workers.jobs import endings


class FlakyPool:
    """Refuses `failures` connections, then hands out a token connection."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    @asynccontextmanager
    async def connection(self):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise psycopg.OperationalError("connection refused")
        yield "connection"


def _endings(pool: FlakyPool, lease_s: float) -> endings.JobEndings:
    unused = SimpleNamespace()  # the stored writes publish nothing
    return endings.JobEndings(
        db=pool,
        lease_s=lease_s,
        retries=unused,
        publisher=unused,
        redis=unused,
    )


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(endings, "STORE_RETRY_FIRST_S", 0.001)
    monkeypatch.setattr(endings, "STORE_RETRY_MAX_S", 0.002)


def test_the_write_is_retried_until_postgres_answers() -> None:
    pool = FlakyPool(failures=3)
    written = []

    async def write(conn: str) -> str:
        written.append(conn)
        return "stored"

    job = SimpleNamespace(id=uuid4())
    result = asyncio.run(_endings(pool, 60).stored(job, write))

    assert result == "stored"
    assert pool.attempts == 4
    assert written == ["connection"]


def test_the_write_gives_up_once_the_lease_is_over() -> None:
    pool = FlakyPool(failures=10**6)

    async def write(conn: str) -> str:
        return "never"

    job = SimpleNamespace(id=uuid4())
    with pytest.raises(psycopg.OperationalError):
        asyncio.run(_endings(pool, 0.05).stored(job, write))
    assert pool.attempts > 1
