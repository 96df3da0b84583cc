"""Jobs in flight on a worker process's event loop, one slot each.

A task thread takes a slot, waiting while all HELIXQ_WORKER_INFLIGHT are taken (so
Celery, whose few task threads are all waiting, fetches no more messages), runs the
job's claim on the loop and returns once the claim is committed. The rest of the
job (the call and the writes after it) runs on the loop, holding the slot until it
ends. Hundreds of jobs in flight cost one loop and a few threads, not a thread each.
"""

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import TypeAlias

from workers.event_loop import EventLoopThread

logger = logging.getLogger(__name__)

Rest: TypeAlias = Coroutine[object, object, object]
Claim: TypeAlias = Coroutine[object, object, Rest | None]


class InflightJobs:
    """At most `limit` jobs running on `loop` at once."""

    def __init__(self, loop: EventLoopThread, limit: int) -> None:
        self._loop = loop
        self._slots = threading.BoundedSemaphore(limit)
        # asyncio keeps only weak references to tasks: these keep them alive.
        self._running: set[asyncio.Task[object]] = set()

    def start(self, claim: Claim, *, name: str) -> bool:
        """Take a slot (blocking while none is free), run `claim` on the loop and
        return once it has returned: True if it gave the rest of the job, which now
        runs on the loop under the slot; False (slot freed) if there was nothing to
        do. Errors of `claim` are raised here."""
        self._slots.acquire()
        try:
            started = self._loop.run(self._begin(claim, name))
        except BaseException:
            claim.close()  # never started if the loop was gone: no "never awaited"
            self._slots.release()
            raise
        if not started:
            self._slots.release()
        return started

    def wait_idle(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for the running jobs to end; how many still run."""
        return self._loop.run(self._drain(timeout_s))

    async def _begin(self, claim: Claim, name: str) -> bool:
        rest = await claim
        if rest is None:
            return False
        task = asyncio.create_task(rest, name=name)
        self._running.add(task)
        task.add_done_callback(self._end)
        return True

    def _end(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        self._slots.release()
        if not task.cancelled() and (error := task.exception()) is not None:
            # The job stays `running` until its lease expires; the sweeper re-sends it.
            logger.error("%s: crashed after its claim", task.get_name(), exc_info=error)

    async def _drain(self, timeout_s: float) -> int:
        if not self._running:
            return 0
        _, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
        return len(pending)
