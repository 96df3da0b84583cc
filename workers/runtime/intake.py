"""How many messages a worker process holds unacked: its prefetch count while its
jobs wait for rate-limit tokens, WIDE_INTAKE times that while none has for a limit
horizon.

A completion message is in hand from its delivery until its jobs are claimed and
admitted (workers.runtime.consumer). While jobs wait for tokens, the messages
behind them must stay in Redis, where the weighted rotation over the tenant queues
decides who goes next (docs/limits.md): the consumer then holds only its prefetch
count (HELIXQ_WORKER_CONCURRENCY), which bounds how long a small tenant's job waits
behind a flooding one's reservations. When no job of the process has waited for
HELIXQ_LIMIT_HORIZON_S (so no reservation it made is still ahead), holding more
lets more messages share a claim and keeps the consumer from waiting for the
loop. The first wait narrows the count again at once; messages already in hand
stay, so a flood that starts while it is wide gets at most the extra messages
ahead of the rotation.
"""

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

# The prefetch count's multiple while no job waits for tokens.
WIDE_INTAKE = 4


class PrefetchCount(Protocol):
    """Celery's consumer QoS (kombu.common.QoS): thread-safe, applied by the
    consumer's loop on its next turn."""

    def increment_eventually(self, n: int = 1) -> int: ...

    def decrement_eventually(self, n: int = 1) -> int: ...


class Intake:
    """Widens and narrows one worker process's prefetch count by `extra`."""

    def __init__(
        self,
        *,
        extra: int,
        quiet_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._extra = extra
        self._quiet_s = quiet_s
        self._clock = clock
        # The consumer's thread widens, the event loop's narrows.
        self._lock = threading.Lock()
        self._count: PrefetchCount | None = None
        self._wide = False
        self._waiting = 0
        self._last_wait = -math.inf

    def on_message(self, count: PrefetchCount) -> None:
        """On the consumer's thread, for each message it starts itself: widen
        `count` when no job has waited for tokens for the quiet period."""
        with self._lock:
            if count is not self._count:  # a reconnected consumer starts narrow
                self._count, self._wide = count, False
            quiet = self._clock() - self._last_wait >= self._quiet_s
            if not self._wide and self._waiting == 0 and quiet and self._extra:
                count.increment_eventually(self._extra)
                self._wide = True

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a job's wait for rate-limit tokens (on the loop): narrow the
        count at once, and start the quiet period when the last wait ends."""
        with self._lock:
            self._waiting += 1
            if self._wide and self._count is not None:
                self._count.decrement_eventually(self._extra)
                self._wide = False
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                self._last_wait = self._clock()
