"""One Redis subscription per API process, fanning notices out to in-process
handlers: workers' "job finished" (long-poll and synchronous waiters) and
"keys changed" (the authentication cache).

Pub/sub delivers at most once: a notice published while this process is not
subscribed (Redis restarting, the connection dropping) is lost. So each
(re)subscription calls `on_subscribed`, whose handlers assume they missed
something: waiters re-read Postgres, the key cache forgets what it holds.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

POLL_S = 0.5
RETRY_S = 1.0

Handler = Callable[[bytes], None]


class Notices:
    def __init__(
        self,
        redis: Redis,
        handlers: Mapping[str, Handler],
        on_subscribed: Callable[[], None] = lambda: None,
    ) -> None:
        self._redis = redis
        self._handlers = {channel.encode(): h for channel, h in handlers.items()}
        self._on_subscribed = on_subscribed
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="notices")

    async def stop(self) -> None:
        if self._task is None:
            return
        # redis-py can swallow a cancellation that lands while it connects; the
        # flag ends the loop at its next poll in that case.
        self._stopping = True
        self._task.cancel()
        await asyncio.wait({self._task}, timeout=POLL_S * 4)

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*self._handlers)
                    self._on_subscribed()
                    while not self._stopping:
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None:
                            self._handlers[message["channel"]](message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: waiters re-read Postgres on their own, keys expire.
                logger.warning("notices unavailable; retrying", exc_info=True)
                await asyncio.sleep(RETRY_S)
