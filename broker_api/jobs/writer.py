"""Job rows of concurrent submissions, inserted together.

Inserted one by one, each submission pays the driver's work, a round trip and a
commit (a WAL flush in Postgres). Here the rows of submissions made while an
INSERT is under way go in the next one, one statement and one commit for all
(shared.coalescing): a lone submission waits for no one, and each caller still
hears back only once its own row is committed, before anything is published.

A row Postgres refuses would fail its whole statement, so a refused group is
tried again row by row: only the submission whose row is at fault fails.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from broker_api.db_pool import Pool
from broker_api.jobs import queries
from shared.coalescing import Coalescer

Row = dict[str, Any]
# Errors that a row's own values cause; anything else (Postgres away) is every
# row's answer.
ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


class JobWriter:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._inserts: Coalescer[Row, datetime] = Coalescer(
            self._insert_round, lone_inline=True
        )

    async def insert(self, row: Row) -> datetime:
        """Insert the job row, committed on return; its created_at."""
        return await self._inserts.submit(row)

    async def _insert_round(
        self, rows: Sequence[Row]
    ) -> list[datetime | BaseException]:
        if len(rows) == 1:  # the one-row statement costs the driver less
            return [await self._insert_alone(rows[0])]
        try:
            async with self.pool.connection() as connection:
                created = await queries.insert_jobs(connection, rows)
        except ROW_ERRORS:
            return [await self._insert_alone(row) for row in rows]
        return [created[row["id"]] for row in rows]

    async def _insert_alone(self, row: Row) -> datetime | BaseException:
        try:
            async with self.pool.connection() as connection:
                return await queries.insert_job(connection, row)
        except ROW_ERRORS as error:
            return error
