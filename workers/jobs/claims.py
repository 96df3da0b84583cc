"""The claims of the messages a worker process takes at the same moment, made in
one statement (shared.coalescing): each message waits for its own jobs, and
Postgres sees one claim a round instead of one a message."""

from collections.abc import Sequence
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from shared.coalescing import Coalescer
from workers.jobs import transitions
from workers.jobs.records import ClaimedJob


class Claims:
    """Claims jobs on the worker's loop, many messages' jobs a statement."""

    def __init__(
        self, db: AsyncConnectionPool[AsyncConnection[TupleRow]], *, lease_s: float
    ) -> None:
        self._db = db
        self._lease_s = lease_s
        self._rounds: Coalescer[Sequence[UUID], list[ClaimedJob]] = Coalescer(
            self._claim_round
        )

    async def claim(self, job_ids: Sequence[UUID]) -> list[ClaimedJob]:
        """Those of the jobs this worker now holds, in the order given (see
        transitions.claim_jobs); committed when this returns."""
        return await self._rounds.submit(job_ids)

    async def _claim_round(
        self, requests: Sequence[Sequence[UUID]]
    ) -> list[list[ClaimedJob]]:
        async with self._db.connection() as conn:
            jobs = await transitions.claim_jobs(
                conn,
                [job_id for request in requests for job_id in request],
                lease_s=self._lease_s,
            )
        claimed = {job.id: job for job in jobs}
        # A job sent twice goes to the first message that names it, never to both.
        return [
            [claimed.pop(job_id) for job_id in request if job_id in claimed]
            for request in requests
        ]
