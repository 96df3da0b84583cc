"""Slow down key guessing: failed authentications per client address per minute.

Only failures are counted and only failures are refused: a key is checked before
the throttle is asked, so a valid key passes however many guesses came from its
address (tenants behind one NAT or proxy share it with whoever else is there).
Past its budget an address's failures answer 429 with Retry-After instead of 401.

A fixed one-minute window in Redis, shared by every API process. When Redis is
away the throttle steps aside (logged): refusing every caller would turn a Redis
outage into an API outage, and the keys themselves are 40 random characters.
"""

import logging
import time

import redis.exceptions
from fastapi import Request
from redis.asyncio import Redis

from shared import redis_keys
from shared.errors import TooManyAuthFailures

logger = logging.getLogger(__name__)

WINDOW_S = 60


class AuthThrottle:
    def __init__(self, redis: Redis, *, max_failures: int) -> None:
        self._redis = redis
        self._max_failures = max_failures

    async def record_failure(self, source: str) -> None:
        """Count a failed authentication from `source`.

        Raises TooManyAuthFailures once `source` is over its budget, so the
        failure answers 429 with Retry-After instead of 401.
        """
        window, retry_after_s = _window()
        key = redis_keys.auth_failures(source, window)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_S)
                failures, _ = await pipe.execute()
        except redis.exceptions.RedisError:
            logger.warning("auth failure not counted: Redis unreachable")
            return
        if int(failures) > self._max_failures:
            raise TooManyAuthFailures(retry_after_s)


class _NoThrottle(AuthThrottle):
    """Apps assembled from single routers (tests) have no lifespan throttle."""

    def __init__(self) -> None:
        pass

    async def record_failure(self, source: str) -> None:
        pass


def throttle_of(request: Request) -> AuthThrottle:
    """The app's throttle (built in create_app's lifespan)."""
    throttle: AuthThrottle = getattr(request.app.state, "auth_throttle", _NoThrottle())
    return throttle


def _window() -> tuple[int, int]:
    """The current window number and the seconds until it ends (at least 1)."""
    now = int(time.time())
    return now // WINDOW_S, WINDOW_S - now % WINDOW_S


def client_address(request: Request) -> str:
    """The peer address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
