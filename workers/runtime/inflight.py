"""Jobs in flight on a worker process's event loop, one slot each.

A message's jobs take a slot each (waiting, on the loop, while all
HELIXQ_WORKER_INFLIGHT are taken), are claimed, and the claim starts the rest of
each job it took (the call and the writes after it) on the loop, under that job's
slot until it ends. The message is acked once the claim is done; while slots are
short its message stays unacked, and with the consumer's prefetch count of
unacked messages in hand Celery fetches no more: that is the backpressure.
Hundreds of jobs in flight cost one loop, not a thread each.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

logger = logging.getLogger(__name__)

# How long jobs cancelled at shutdown get to hand themselves back (one statement
# and one publish each) and run their `finally` blocks.
CANCEL_GRACE_S = 5.0

Rest: TypeAlias = Coroutine[object, object, object]
# What a claim calls for each job it took: start(name, rest).
Starter: TypeAlias = Callable[[str, Rest], None]
Claim: TypeAlias = Callable[[Starter], Coroutine[object, object, None]]


class InflightJobs:
    """At most `limit` jobs running on one event loop at once (use it on that loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = asyncio.BoundedSemaphore(limit)
        # One message takes its slots at a time: two each holding part of what
        # they need could otherwise wait for each other forever.
        self._taking = asyncio.Lock()
        # asyncio keeps only weak references to tasks: these keep them alive.
        self._running: set[asyncio.Task[object]] = set()
        # The tasks of messages still taking slots or claiming, for `stop`.
        self._beginning: set[asyncio.Task[Any]] = set()

    async def begin(self, claim: Claim, *, slots: int) -> int:
        """Take `slots` slots (waiting while they are taken), run `claim` and
        return once it has returned: how many jobs it started, each now running
        under a slot of its own. The other slots are freed. Errors of `claim` are
        raised here; the jobs it started before go on."""
        if not 0 < slots <= self.limit:
            raise ValueError(f"{slots} slots asked of {self.limit}")
        taken = started = 0

        def start(name: str, rest: Rest) -> None:
            nonlocal started
            task = asyncio.create_task(rest, name=name)
            self._running.add(task)
            task.add_done_callback(self._end)
            started += 1

        current = asyncio.current_task()
        beginning = {current} if current is not None else set()
        self._beginning |= beginning
        try:
            async with self._taking:
                while taken < slots:
                    await self._slots.acquire()
                    taken += 1
            await claim(start)
        finally:
            self._beginning -= beginning
            for _ in range(taken - started):
                self._slots.release()
        return started

    async def stop(self, timeout_s: float) -> int:
        """At shutdown: cancel the messages not yet started, give the running jobs
        up to `timeout_s` to end, then cancel the rest; how many were cancelled
        running. Nothing is lost: a job not yet claimed is still `queued` (the
        sweeper re-sends it), and a claimed one that is cancelled hands itself back
        to its queue (workers.jobs.completion)."""
        await _cancel(self._beginning, CANCEL_GRACE_S)
        still_running = await self.wait_idle(timeout_s)
        await _cancel(self._running, CANCEL_GRACE_S)
        return still_running

    async def wait_idle(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for the running jobs to end; how many still run."""
        if not self._running:
            return 0
        _, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
        return len(pending)

    def _end(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        self._slots.release()
        if not task.cancelled() and (error := task.exception()) is not None:
            # The job stays `running` until its lease expires; the sweeper re-sends it.
            logger.error("%s: crashed after its claim", task.get_name(), exc_info=error)


async def _cancel(tasks: set[asyncio.Task[Any]], grace_s: float) -> None:
    cancelled = set(tasks)
    for task in cancelled:
        task.cancel()
    if cancelled:
        await asyncio.wait(cancelled, timeout=grace_s)
