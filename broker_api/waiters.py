"""Wake requests that wait for a job to finish (long poll, synchronous completions).

The process's notice subscription (broker_api.notices) hands the workers' "job
finished" notices to `notify`; callers still re-read Postgres, which stays the
truth, and re-check it every few seconds in case a notice was lost.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from uuid import UUID

RECHECK_S = 2.0  # a lost notice delays a waiter by at most this much


class JobWaiters:
    def __init__(self) -> None:
        self._events: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    @contextlib.contextmanager
    def watching(self, job_id: UUID) -> Iterator[asyncio.Event]:
        """An event set when `job_id` may have finished. Taken before the job is
        published, it cannot miss the notice of a worker that is quicker than
        the request."""
        event = asyncio.Event()
        key = str(job_id)
        self._events[key].add(event)
        try:
            yield event
        finally:
            self._events[key].discard(event)
            if not self._events[key]:
                del self._events[key]

    async def wait(self, job_id: UUID, timeout_s: float) -> None:
        """Return when the job may have finished, or after `timeout_s`."""
        with self.watching(job_id) as event:
            await wait_for(event, timeout_s)

    def notify(self, job_id: bytes | str) -> None:
        key = job_id.decode() if isinstance(job_id, bytes) else job_id
        for event in self._events.get(key, ()):
            event.set()

    def notify_all(self) -> None:
        """Wake every waiter (notices may have been lost): each re-reads its job."""
        for events in self._events.values():
            for event in events:
                event.set()


async def wait_for(event: asyncio.Event, timeout_s: float) -> None:
    """Until `event` is set, at most `timeout_s` and at most RECHECK_S."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=min(timeout_s, RECHECK_S))
