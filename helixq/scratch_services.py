"""Throwaway databases for tests and benchmarks on a server someone else runs.

A fresh, migrated database next to the given one (never the given one itself, so
a developer's data is never touched) and a dedicated Redis database index.
"""

import psycopg
from sqlalchemy.engine import make_url

from shared.db.migrate import upgrade_to_head
from shared.db.session import psycopg_url


def fresh_database(server_url: str, name: str) -> str:
    """Drop and re-create database `name` on `server_url`'s server, migrated to
    the newest schema; its URL (works with TCP and unix-socket URLs alike)."""
    # A plain postgresql:// URL: libpq, psycopg and our settings all take it.
    url = make_url(psycopg_url(server_url)).set(drivername="postgresql")
    admin_dsn = url.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(database_url)
    return database_url


def redis_database(redis_url: str, index: int) -> str:
    """`redis_url` pointed at database `index` instead of the one it names."""
    base, _, tail = redis_url.rstrip("/").rpartition("/")
    server = base if tail.isdigit() else redis_url.rstrip("/")
    return f"{server}/{index}"
