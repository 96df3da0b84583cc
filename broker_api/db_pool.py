"""The API's psycopg pool, for the statements every submission and read runs.

SQLAlchemy's async ORM costs several times the statement itself in CPU (the
greenlet bridge, the unit of work, a ping at every checkout); the hot path
(authenticating a key, inserting a job, reading one) talks to psycopg directly,
in autocommit: a statement is its own transaction, one round trip. Everything
else keeps the async engine (`app.state.engine`).
"""

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from shared.db.session import connect_options, libpq_url
from shared.settings import DatabaseSettings

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]
# Waiting for a connection (all in use, or Postgres away), then 503.
POOL_TIMEOUT_S = 2.0


async def open_pool(settings: DatabaseSettings) -> Pool:
    """A pool of autocommit connections, opened without waiting for the server
    (requests wait for a connection, up to the pool's timeout, and answer 503)."""
    pool: Pool = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=1,
        max_size=settings.database_pool_size,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            **connect_options(settings),
        },
        connection_class=AsyncConnection[DictRow],
        open=False,
        timeout=POOL_TIMEOUT_S,
    )
    await pool.open(wait=False)
    return pool
