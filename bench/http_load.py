"""A lean HTTP/1.1 load generator for the API benchmarks.

Requests are built once as bytes and sent over keep-alive connections with
asyncio streams, so the client spends far less CPU a request than the server it
measures: on a 2-core box every cycle the client burns is taken from the API.
"""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

RequestMaker = Callable[[int], bytes]  # request number → the whole request
# A kept-alive connection idle longer is not reused: uvicorn closes them after 5 s.
IDLE_REUSE_S = 4.0


def build_request(
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 request to `url` (keep-alive)."""
    parts = urlsplit(url)
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    latency_s: float


@dataclass
class Outcome:
    """Every reply of one run, and the run's length."""

    replies: list[Reply] = field(default_factory=list)
    elapsed_s: float = 0.0
    failures: int = 0  # connections that broke mid-request
    failure_kinds: dict[str, int] = field(default_factory=dict)

    def fail(self, error: BaseException) -> None:
        self.failures += 1
        kind = type(error).__name__
        self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1

    @property
    def ok(self) -> list[Reply]:
        return [reply for reply in self.replies if 200 <= reply.status < 300]

    @property
    def not_ok(self) -> int:
        return len(self.replies) - len(self.ok) + self.failures

    @property
    def rate(self) -> float:
        return len(self.ok) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, share: float) -> float:
        return percentile([reply.latency_s * 1000 for reply in self.ok], share)

    def statuses(self) -> dict[int | str, int]:
        """Replies by status, and broken requests by error."""
        counts: dict[int | str, int] = {}
        for reply in self.replies:
            counts[reply.status] = counts.get(reply.status, 0) + 1
        counts.update(self.failure_kinds)
        return counts


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """One request and its reply (status, body); reconnects when needed."""
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port
            )
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, closes = _parse_head(head)
        body = await self._reader.readexactly(length) if length else b""
        if closes:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._reader = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, closes = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            closes = True
        elif name == b"transfer-encoding":
            raise ValueError("chunked replies are not read by this client")
    return status, length, closes


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


async def _timed(connection: Connection, request: bytes, started: float) -> Reply:
    status, body = await connection.send(request)
    return Reply(status, body, time.perf_counter() - started)


async def closed_loop(
    url: str, make: RequestMaker, *, clients: int, seconds: float
) -> Outcome:
    """`clients` connections, each sending its next request when the last is
    answered, for `seconds`."""
    host, port = _target(url)
    outcome = Outcome()
    deadline = time.perf_counter() + seconds
    numbers = iter(range(10**12))

    async def client() -> None:
        connection = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                request = make(next(numbers))
                try:
                    reply = await _timed(connection, request, time.perf_counter())
                except (OSError, asyncio.IncompleteReadError) as error:
                    outcome.fail(error)
                    await connection.close()
                    continue
                outcome.replies.append(reply)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    outcome.elapsed_s = time.perf_counter() - started
    return outcome


async def open_loop(
    url: str, make: RequestMaker, *, rate: float, seconds: float
) -> Outcome:
    """Requests sent at a fixed `rate` whatever the answers; latency counts from
    each request's scheduled time, so a stalled server cannot hide its queue."""
    host, port = _target(url)
    outcome = Outcome()
    idle: list[tuple[Connection, float]] = []  # with the time each was last used
    pending: set[asyncio.Task[None]] = set()

    async def connection_for_now() -> Connection:
        while idle:
            connection, used_at = idle.pop()
            if time.perf_counter() - used_at < IDLE_REUSE_S:
                return connection
            await connection.close()  # the server may have closed it meanwhile
        return Connection(host, port)

    async def one(number: int, scheduled: float) -> None:
        connection = await connection_for_now()
        try:
            reply = await _timed(connection, make(number), scheduled)
        except (OSError, asyncio.IncompleteReadError) as error:
            outcome.fail(error)
            await connection.close()
            return
        outcome.replies.append(reply)
        idle.append((connection, time.perf_counter()))

    started = time.perf_counter()
    total = int(rate * seconds)
    for number in range(total):
        scheduled = started + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(number, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    outcome.elapsed_s = time.perf_counter() - started
    for connection, _ in idle:
        await connection.close()
    return outcome


async def sequential(url: str, requests: Sequence[bytes]) -> Outcome:
    """`requests` one after the other on one connection."""
    host, port = _target(url)
    connection = Connection(host, port)
    outcome = Outcome()
    started = time.perf_counter()
    try:
        for request in requests:
            outcome.replies.append(
                await _timed(connection, request, time.perf_counter())
            )
    finally:
        await connection.close()
    outcome.elapsed_s = time.perf_counter() - started
    return outcome
