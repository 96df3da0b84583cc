"""The ledger writes many jobs on a worker's loop make at the same moment, made in
one statement a round (workers.coalescing): the claims of the messages taken
together, and the rows of the calls about to be made. Each job waits for its own
answer; Postgres sees one statement a round instead of one a job.
"""

from collections.abc import Sequence
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from workers import jobs_store
from workers.coalescing import Coalescer
from workers.jobs_store import Call, ClaimedJob

Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]


class Claims:
    """Claims jobs on the worker's loop, many messages' jobs a statement."""

    def __init__(self, db: Pool, *, lease_s: float) -> None:
        self._db = db
        self._lease_s = lease_s
        self._rounds: Coalescer[Sequence[UUID], list[ClaimedJob]] = Coalescer(
            self._claim_round
        )

    async def claim(self, job_ids: Sequence[UUID]) -> list[ClaimedJob]:
        """Those of the jobs this worker now holds, in the order given (see
        jobs_store.claim_jobs); committed when this returns."""
        return await self._rounds.submit(job_ids)

    async def _claim_round(
        self, requests: Sequence[Sequence[UUID]]
    ) -> list[list[ClaimedJob]]:
        async with self._db.connection() as conn:
            jobs = await jobs_store.claim_jobs(
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


class AttemptStarts:
    """Writes the `started` rows of calls about to be made, many a statement."""

    def __init__(self, db: Pool) -> None:
        self._db = db
        self._rounds: Coalescer[tuple[ClaimedJob, Call], bool] = Coalescer(
            self._begin_round
        )

    async def begin(self, job: ClaimedJob, call: Call) -> bool:
        """Write the call's row (see jobs_store.begin_attempts); False, and nothing
        written, when the job's claim was lost: the call must not be made."""
        return await self._rounds.submit((job, call))

    async def _begin_round(
        self, starts: Sequence[tuple[ClaimedJob, Call]]
    ) -> list[bool]:
        async with self._db.connection() as conn:
            return await jobs_store.begin_attempts(conn, starts)
