"""Alembic environment: the URL comes from DATABASE_URL (or the caller's config)."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from shared.db import models  # noqa: F401  (registers every table on the metadata)
from shared.db.base import Base
from shared.db.session import psycopg_url
from shared.settings import DatabaseSettings, load_settings

config = context.config


def _url() -> str:
    """The caller's URL (`helixq migrate`, tests) or DATABASE_URL."""
    given = config.attributes.get("database_url")
    return psycopg_url(given or load_settings(DatabaseSettings).database_url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=Base.metadata, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
