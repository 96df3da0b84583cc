"""Messages waiting in each tenant's Celery queue, read from Redis: its list plus
one list per priority step (kombu's layout, see shared.task_messages)."""

from collections.abc import Sequence

from redis.asyncio import Redis

from shared.queues import tenant_queue
from shared.task_messages import PRIORITY_STEPS, redis_list_key


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
