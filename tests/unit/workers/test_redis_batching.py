"""RedisBatcher: the commands of many coroutines in shared round trips, each caller
getting its own replies or its own error."""

import asyncio
import logging

import fakeredis
import pytest
import redis.exceptions

from workers.runtime.redis_batching import RedisBatcher


class CountingRedis(fakeredis.FakeAsyncRedis):
    """Counts the pipelines sent and the commands each carried."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.round_trips: list[int] = []

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        execute = pipe.execute

        async def counted(raise_on_error=True):
            self.round_trips.append(len(pipe))
            return await execute(raise_on_error=raise_on_error)

        pipe.execute = counted
        return pipe


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def client(server):
    return CountingRedis(server=server)


def test_callers_in_the_same_turn_share_one_round_trip_and_get_their_replies(client):
    batcher = RedisBatcher(client)

    async def scenario():
        return await asyncio.gather(
            batcher.execute(lambda pipe: pipe.incr("a").incr("a")),
            batcher.execute(lambda pipe: pipe.set("b", "x").get("b")),
            batcher.execute(lambda pipe: pipe.incrby("a", 10)),
        )

    replies = asyncio.run(scenario())

    assert replies == [[1, 2], [True, b"x"], [12]]
    assert client.round_trips == [5]


def test_commands_queued_during_a_round_trip_go_together_in_the_next(client):
    batcher = RedisBatcher(client)

    async def scenario():
        first = asyncio.create_task(batcher.execute(lambda pipe: pipe.incr("n")))
        await asyncio.sleep(0)  # the first round trip is under way
        later = [
            asyncio.create_task(batcher.execute(lambda pipe: pipe.incr("n")))
            for _ in range(3)
        ]
        return await first, [await task for task in later]

    first, later = asyncio.run(scenario())

    assert first == [1]
    assert sorted(reply for (reply,) in later) == [2, 3, 4]
    assert client.round_trips == [1, 3]


def test_a_failing_command_fails_only_its_caller(client):
    batcher = RedisBatcher(client)

    async def scenario():
        await client.hset("h", "f", "v")
        return await asyncio.gather(
            batcher.execute(lambda pipe: pipe.incr("h")),  # WRONGTYPE
            batcher.execute(lambda pipe: pipe.incr("n")),
            return_exceptions=True,
        )

    wrong, right = asyncio.run(scenario())

    assert isinstance(wrong, redis.exceptions.ResponseError)
    assert right == [1]


def test_a_lost_connection_fails_every_caller_of_the_round_trip(server, client):
    server.connected = False
    batcher = RedisBatcher(client)

    async def scenario():
        return await asyncio.gather(
            batcher.execute(lambda pipe: pipe.incr("a")),
            batcher.execute(lambda pipe: pipe.incr("b")),
            return_exceptions=True,
        )

    errors = asyncio.run(scenario())

    assert all(isinstance(error, redis.exceptions.ConnectionError) for error in errors)


def test_send_logs_and_drops_what_it_could_not_send(server, client, caplog):
    server.connected = False
    batcher = RedisBatcher(client)

    with caplog.at_level(logging.WARNING):
        asyncio.run(batcher.send(lambda pipe: pipe.incr("a"), what="counters"))

    assert "counters not sent" in caplog.text


def test_a_fill_that_raises_queues_nothing(client):
    batcher = RedisBatcher(client)

    def broken(pipe):
        pipe.incr("a")
        raise ValueError("bad argument")

    async def scenario():
        with pytest.raises(ValueError, match="bad argument"):
            await batcher.execute(broken)
        return await batcher.execute(lambda pipe: pipe.get("a"))

    assert asyncio.run(scenario()) == [None]
    assert client.round_trips == [1]


def test_a_cancelled_caller_leaves_the_others_their_replies(client):
    batcher = RedisBatcher(client)

    async def scenario():
        gone = asyncio.create_task(batcher.execute(lambda pipe: pipe.incr("a")))
        kept = asyncio.create_task(batcher.execute(lambda pipe: pipe.incr("b")))
        await asyncio.sleep(0)
        gone.cancel()
        return await kept, await client.get("a")

    kept, sent_anyway = asyncio.run(scenario())

    assert kept == [1]
    assert sent_anyway == b"1"  # its command was already on the wire


def test_nothing_to_send_is_no_round_trip(client):
    batcher = RedisBatcher(client)

    assert asyncio.run(batcher.execute(lambda pipe: None)) == []
    assert client.round_trips == []
