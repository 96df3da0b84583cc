"""What an authenticated key may do: its scopes and its own requests per minute.

Checked for every request of a tenant key (broker_api.deps.get_caller); the hot
path leaves requests of keys that cannot take it to the routes.
"""

import time

from redis.asyncio import Redis

from broker_api.caller import Caller
from shared.api_keys import scope_for
from shared.errors import KeyRateLimited, ScopeMissing
from shared.redis_keys import key_requests

WINDOW_S = 60


def check_scope(caller: Caller, method: str, path: str) -> None:
    """ScopeMissing when the caller's key lacks the scope `method path` needs."""
    required = scope_for(method, path)
    if required not in caller.scopes:
        raise ScopeMissing(required.value, sorted(caller.scopes))


def takes_hot_path(caller: Caller, method: str, path: str) -> bool:
    """Whether the hot path may answer for this key: it has the scope and no rate
    of its own (counted once, by the route)."""
    return caller.requests_per_minute is None and scope_for(method, path) in (
        caller.scopes
    )


async def count_key_request(redis: Redis, caller: Caller, limit: int) -> None:
    """Count the request against the key's own limit; a key past it is refused
    (KeyRateLimited) until its minute window ends."""
    now = int(time.time())
    window, left_s = divmod(now, WINDOW_S)
    name = key_requests(caller.key_prefix, window)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(name)
        pipe.expire(name, WINDOW_S * 2)
        count, _ = await pipe.execute()
    if int(count) > limit:
        raise KeyRateLimited(limit, max(1, WINDOW_S - left_s))
