"""Worker heartbeats: each worker process says it is alive, in Redis and in a local
liveness mark.

A consumer bootstep beats every BEAT_INTERVAL_S on the consumer's timer, which the
consumer's own event hub runs: a consumer that stops turning stops beating.

- Redis: `redis_keys.worker_heartbeat(hostname)`, expiring after
  WORKER_HEARTBEAT_TTL_S, so the API's `/readyz` counts live workers by the keys
  it finds.
- The liveness mark (shared.liveness), rewritten only while the process's event
  loop also answers: each beat posts a no-op to the loop and the next beat writes
  the mark if it has run. `helixq-alive worker` reads it, so a worker whose
  consumer or event loop is stuck fails its orchestrator's liveness probe.
"""

import asyncio
import json
import logging
import os
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.exceptions
from celery import bootsteps

from shared import redis_keys
from shared.liveness import MARK_INTERVAL_S, write_mark
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.process import provider_of

logger = logging.getLogger(__name__)

BEAT_INTERVAL_S = min(redis_keys.WORKER_HEARTBEAT_TTL_S / 3, MARK_INTERVAL_S)
ROLE = "worker"


def beat(client: redis.Redis, hostname: str, *, now_s: float | None = None) -> None:
    """Write one heartbeat for `hostname`, expiring after WORKER_HEARTBEAT_TTL_S."""
    at_s = time.time() if now_s is None else now_s
    value = json.dumps({"hostname": hostname, "pid": os.getpid(), "at": at_s})
    client.set(
        redis_keys.worker_heartbeat(hostname),
        value,
        ex=redis_keys.WORKER_HEARTBEAT_TTL_S,
    )


@dataclass
class LivenessMark:
    """The process's liveness mark, written while its event loop answers."""

    directory: Path
    hostname: str
    loop: EventLoopThread
    _probe: "Future[None] | None" = field(default=None, init=False)

    def renew(self) -> None:
        """Write the mark if the loop ran the last probe, then post another."""
        if self._probe is None or self._probe.done():
            try:
                write_mark(self.directory, ROLE, self.hostname)
            except OSError as error:
                logger.warning("liveness mark not written: %r", error)
            try:
                self._probe = self.loop.submit(asyncio.sleep(0))
            except RuntimeError:  # the loop is closed: no more marks
                self._probe = Future()
        else:
            logger.warning(
                "the event loop has not answered for %.0f s: liveness mark not renewed",
                BEAT_INTERVAL_S,
            )


class HeartbeatStep(bootsteps.StartStopStep):
    """Consumer bootstep beating on the consumer's timer while it consumes."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None

    def start(self, parent: Any) -> None:
        """Beat now, then every BEAT_INTERVAL_S."""
        process = provider_of(parent.app).get()
        hostname = str(parent.hostname)
        mark = LivenessMark(process.settings.helixq_alive_dir, hostname, process.loop)
        _beat_quietly(process.redis, hostname, mark)
        self._timer_entry = parent.timer.call_repeatedly(
            BEAT_INTERVAL_S, _beat_quietly, (process.redis, hostname, mark)
        )

    def stop(self, parent: Any) -> None:  # noqa: ARG002 (Celery's signature)
        """Stop beating; the key expires on its own."""
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None


def _beat_quietly(client: redis.Redis, hostname: str, mark: LivenessMark) -> None:
    # A timer callback that raises would stop the consumer: log and try next tick.
    mark.renew()
    try:
        beat(client, hostname)
    except (redis.exceptions.RedisError, OSError) as error:
        logger.warning("heartbeat not written: %r", error)
