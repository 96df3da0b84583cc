"""Messages waiting in each tenant's Celery queue, read from Redis."""

from collections.abc import Sequence

from redis.asyncio import Redis

from broker_api.enqueue import redis_list_key
from shared.queues import tenant_queue

# kombu's default `priority_steps` for Redis: one list per step, `tenant.<slug>`
# for step 0 and `tenant.<slug>\x06\x16<step>` for the others.
PRIORITY_STEPS = (0, 3, 6, 9)


async def waiting_messages(redis: Redis, slugs: Sequence[str]) -> dict[str, int]:
    """{slug: messages} over every priority list, in one pipelined round trip."""
    pipe = redis.pipeline(transaction=False)
    for slug in slugs:
        for step in PRIORITY_STEPS:
            pipe.llen(redis_list_key(tenant_queue(slug), step))
    lengths = [int(length) for length in await pipe.execute()]
    steps = len(PRIORITY_STEPS)
    return {
        slug: sum(lengths[index * steps : (index + 1) * steps])
        for index, slug in enumerate(slugs)
    }
