"""Coalescer: requests made while a round is under way are served together in the
next, each getting its own reply or error."""

import asyncio

import pytest

from shared.coalescing import Coalescer


class Server:
    """Answers a round with each request doubled; remembers the rounds."""

    def __init__(self) -> None:
        self.rounds: list[list[int]] = []
        self.release = asyncio.Event()

    async def serve(self, requests):
        self.rounds.append(list(requests))
        await self.release.wait()
        return [
            ValueError(f"odd: {request}") if request % 2 else request * 2
            for request in requests
        ]


def test_requests_made_during_a_round_are_served_together_next():
    async def scenario():
        server = Server()
        coalescer = Coalescer(server.serve)
        first = asyncio.create_task(coalescer.submit(2))
        await asyncio.sleep(0)  # the first round is under way
        later = [asyncio.create_task(coalescer.submit(n)) for n in (4, 6, 8)]
        await asyncio.sleep(0)
        server.release.set()
        return server.rounds, await first, [await task for task in later]

    rounds, first, later = asyncio.run(scenario())

    assert rounds == [[2], [4, 6, 8]]
    assert first == 4
    assert later == [8, 12, 16]


def test_an_error_reaches_only_its_own_request():
    async def scenario():
        server = Server()
        server.release.set()
        coalescer = Coalescer(server.serve)
        return await asyncio.gather(
            coalescer.submit(1), coalescer.submit(2), return_exceptions=True
        )

    odd, even = asyncio.run(scenario())

    assert isinstance(odd, ValueError)
    assert even == 4


def test_a_round_that_fails_fails_all_of_its_requests():
    async def broken(requests):
        raise ConnectionError("gone")

    async def scenario():
        coalescer = Coalescer(broken)
        return await asyncio.gather(
            coalescer.submit(1), coalescer.submit(2), return_exceptions=True
        )

    assert all(isinstance(reply, ConnectionError) for reply in asyncio.run(scenario()))


def test_stopping_a_round_cancels_its_waiters_instead_of_leaving_them_forever():
    async def scenario():
        server = Server()
        coalescer = Coalescer(server.serve)
        waiter = asyncio.create_task(coalescer.submit(2))
        await asyncio.sleep(0.01)
        serving = next(
            task
            for task in asyncio.all_tasks()
            if task.get_coro().__name__ == "_serve_all"
        )
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(scenario())


def test_a_lone_request_is_served_inline_and_later_ones_in_rounds():
    async def scenario():
        served: list[list[int]] = []
        release = asyncio.Event()

        async def serve(requests):
            served.append(list(requests))
            await release.wait()
            return [request * 2 for request in requests]

        coalescer = Coalescer(serve, lone_inline=True)
        first = asyncio.create_task(coalescer.submit(1))
        await asyncio.sleep(0)
        assert served == [[1]]
        later = [asyncio.create_task(coalescer.submit(n)) for n in (2, 3)]
        await asyncio.sleep(0)
        release.set()
        return await first, [await task for task in later], served

    first, later, served = asyncio.run(scenario())
    assert first == 2
    assert later == [4, 6]
    assert served == [[1], [2, 3]]


def test_an_inline_error_reaches_its_caller():
    async def serve(requests):
        return [ValueError("refused") for _ in requests]

    coalescer = Coalescer(serve, lone_inline=True)
    with pytest.raises(ValueError, match="refused"):
        asyncio.run(coalescer.submit(1))
