"""Worker heartbeats: each worker process says it is alive, in Redis, with a TTL.

A consumer bootstep writes `redis_keys.worker_heartbeat(hostname)` every third of
WORKER_HEARTBEAT_TTL_S on the consumer's timer; the key expires when the process
stops or hangs, so the API's `/readyz` counts live workers by the keys it finds.
"""

import json
import logging
import os
import time
from typing import Any

import redis
import redis.exceptions
from celery import bootsteps

from shared import redis_keys
from workers.runtime.process import provider_of

logger = logging.getLogger(__name__)

BEAT_INTERVAL_S = redis_keys.WORKER_HEARTBEAT_TTL_S / 3


def beat(client: redis.Redis, hostname: str, *, now_s: float | None = None) -> None:
    """Write one heartbeat for `hostname`, expiring after WORKER_HEARTBEAT_TTL_S."""
    at_s = time.time() if now_s is None else now_s
    value = json.dumps({"hostname": hostname, "pid": os.getpid(), "at": at_s})
    client.set(
        redis_keys.worker_heartbeat(hostname),
        value,
        ex=redis_keys.WORKER_HEARTBEAT_TTL_S,
    )


class HeartbeatStep(bootsteps.StartStopStep):
    """Consumer bootstep beating on the consumer's timer while it consumes."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None

    def start(self, parent: Any) -> None:
        """Beat now, then every BEAT_INTERVAL_S."""
        client = provider_of(parent.app).get().redis
        hostname = str(parent.hostname)
        _beat_quietly(client, hostname)
        self._timer_entry = parent.timer.call_repeatedly(
            BEAT_INTERVAL_S, _beat_quietly, (client, hostname)
        )

    def stop(self, parent: Any) -> None:  # noqa: ARG002 (Celery's signature)
        """Stop beating; the key expires on its own."""
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None


def _beat_quietly(client: redis.Redis, hostname: str) -> None:
    # A timer callback that raises would stop the consumer: log and try next tick.
    try:
        beat(client, hostname)
    except (redis.exceptions.RedisError, OSError) as error:
        logger.warning("heartbeat not written: %r", error)
