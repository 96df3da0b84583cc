"""Jobs in flight on a worker process's event loop, one slot each.

A task thread takes a slot for each job of its message, waiting while all
HELIXQ_WORKER_INFLIGHT are taken (so Celery, whose few task threads are all
waiting, fetches no more messages), runs the claim on the loop and returns once
the claim is committed. The claim starts the rest of each job it took (the call
and the writes after it) on the loop, under that job's slot until it ends.
Hundreds of jobs in flight cost one loop and a few threads, not a thread each.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import TypeAlias

from workers.event_loop import EventLoopThread

logger = logging.getLogger(__name__)

Rest: TypeAlias = Coroutine[object, object, object]
# What a claim calls for each job it took: start(name, rest).
Starter: TypeAlias = Callable[[str, Rest], None]
Claim: TypeAlias = Callable[[Starter], Coroutine[object, object, None]]


class _Started:
    """How many jobs a claim started (written on the loop, read after it)."""

    def __init__(self) -> None:
        self.count = 0


class InflightJobs:
    """At most `limit` jobs running on `loop` at once."""

    def __init__(self, loop: EventLoopThread, limit: int) -> None:
        self._loop = loop
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        # One thread takes its slots at a time: two threads each holding part of
        # what they need could otherwise wait for each other forever.
        self._taking = threading.Lock()
        # asyncio keeps only weak references to tasks: these keep them alive.
        self._running: set[asyncio.Task[object]] = set()

    def start(self, claim: Claim, *, slots: int) -> int:
        """Take `slots` slots (blocking while they are taken), run `claim` on the
        loop and return once it has returned: how many jobs it started, each now
        running on the loop under a slot of its own. The other slots are freed.
        Errors of `claim` are raised here; the jobs it started before go on."""
        if not 0 < slots <= self.limit:
            raise ValueError(f"{slots} slots asked of {self.limit}")
        with self._taking:
            for _ in range(slots):
                self._slots.acquire()
        started = _Started()
        beginning = self._begin(claim, started)
        try:
            self._loop.run(beginning)
        except BaseException:
            beginning.close()  # never started if the loop was gone: no "never awaited"
            raise
        finally:
            for _ in range(slots - started.count):
                self._slots.release()
        return started.count

    def wait_idle(self, timeout_s: float) -> int:
        """Wait up to `timeout_s` for the running jobs to end; how many still run."""
        return self._loop.run(self._drain(timeout_s))

    async def _begin(self, claim: Claim, started: _Started) -> None:
        def start(name: str, rest: Rest) -> None:
            task = asyncio.create_task(rest, name=name)
            self._running.add(task)
            task.add_done_callback(self._end)
            started.count += 1

        await claim(start)

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
