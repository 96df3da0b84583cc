"""Engine and session factories; callers create them once per process."""

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from shared.settings import DatabaseSettings


def psycopg_url(database_url: str) -> str:
    """The URL with SQLAlchemy's psycopg 3 driver, whatever scheme it was given."""
    scheme, _, rest = database_url.partition("://")
    if scheme in {"postgres", "postgresql"}:
        return f"postgresql+psycopg://{rest}"
    return database_url


def libpq_url(database_url: str) -> str:
    """The URL as libpq (and so psycopg itself) reads it: no SQLAlchemy driver."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else database_url


def connect_options(settings: DatabaseSettings) -> dict[str, Any]:
    """psycopg's options for every connection helixq opens to Postgres.

    psycopg prepares a statement on the server once a connection has run it five
    times, and the worker's job path asks for it at once (`prepare=True`);
    `prepare_threshold=None` turns both off, so that each statement goes as one
    unnamed extended-protocol statement that any server connection can run."""
    if settings.database_prepared_statements:
        return {}
    return {"prepare_threshold": None}


def make_engine(settings: DatabaseSettings) -> Engine:
    """A sync engine (workers, migrations, CLI)."""
    return create_engine(
        psycopg_url(settings.database_url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_pre_ping=True,
        connect_args=connect_options(settings),
    )


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_async_engine(settings: DatabaseSettings) -> AsyncEngine:
    """An async engine (the API)."""
    return create_async_engine(
        psycopg_url(settings.database_url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_pre_ping=True,
        connect_args=connect_options(settings),
    )


def make_async_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
