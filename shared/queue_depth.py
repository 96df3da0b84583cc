"""Messages waiting in each tenant's Celery queue, read from Redis: its list plus
one list per priority step (kombu's layout, see shared.task_messages)."""

from collections.abc import Sequence
from typing import Any

import redis
from redis.asyncio import Redis

from shared.queues import tenant_queue
from shared.task_messages import PRIORITY_STEPS, redis_list_key


async def waiting_messages(redis: Redis, slugs: Sequence[str]) -> dict[str, int]:
    """{slug: messages} over every priority list, in one pipelined round trip."""
    pipe = redis.pipeline(transaction=False)
    _ask_lengths(pipe, slugs)
    return _by_slug(await pipe.execute(), slugs)


def waiting_messages_blocking(
    client: redis.Redis, slugs: Sequence[str]
) -> dict[str, int]:
    """`waiting_messages` for a blocking client (the periodic tasks)."""
    pipe = client.pipeline(transaction=False)
    _ask_lengths(pipe, slugs)
    return _by_slug(pipe.execute(), slugs)


def _ask_lengths(pipe: Any, slugs: Sequence[str]) -> None:
    for slug in slugs:
        for step in PRIORITY_STEPS:
            pipe.llen(redis_list_key(tenant_queue(slug), step))


def _by_slug(lengths: Sequence[Any], slugs: Sequence[str]) -> dict[str, int]:
    steps = len(PRIORITY_STEPS)
    counts = [int(length) for length in lengths]
    return {
        slug: sum(counts[index * steps : (index + 1) * steps])
        for index, slug in enumerate(slugs)
    }
