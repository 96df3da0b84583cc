"""Telling every API process that a key or a tenant changed, so none keeps trusting
what it checked before (broker_api.key_cache forgets on this notice)."""

import redis

from shared.redis_keys import KEYS_CHANGED_CHANNEL


def announce_keys_changed(client: redis.Redis, what: str) -> bool:
    """Publish the notice; False when Redis cannot be reached (the API processes
    then stop trusting the old state when their cache entries expire)."""
    try:
        client.publish(KEYS_CHANGED_CHANNEL, what)
    except redis.RedisError:
        return False
    return True
