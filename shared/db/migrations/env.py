"""Alembic environment: the URL comes from DATABASE_URL (or the caller's config)."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from shared.db import models  # noqa: F401  (registers every table on the metadata)
from shared.db.base import Base
from shared.db.session import connect_options, psycopg_url
from shared.settings import DatabaseSettings, load_settings

config = context.config


def _settings() -> DatabaseSettings:
    """The caller's URL (`helixq migrate`, tests) or DATABASE_URL, and the rest of
    the database settings from the environment."""
    given = config.attributes.get("database_url")
    if given:
        return load_settings(DatabaseSettings, database_url=given)
    return load_settings(DatabaseSettings)


def _url() -> str:
    return psycopg_url(_settings().database_url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    settings = _settings()
    engine = create_engine(
        psycopg_url(settings.database_url),
        poolclass=pool.NullPool,
        connect_args=connect_options(settings),
    )
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
