"""Debian's pgbouncer in transaction mode on 127.0.0.1, in front of the test
Postgres, for the tests of `DATABASE_PREPARED_STATEMENTS=false`."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from helixq.processes import free_port
from tests.polling import wait_until

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").is_file() else None
)
# pgbouncer refuses to run as root; it switches to this user when started by root.
UNPRIVILEGED_USER = "nobody"
READY_TIMEOUT_S = 30  # a loaded machine can be slow to start it and let it connect


def require_pgbouncer() -> str:
    """The pgbouncer binary, or the test is skipped saying how to get it."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    return PGBOUNCER


@dataclass(frozen=True)
class Pgbouncer:
    url: str  # the database's URL with pgbouncer's address in place of Postgres's
    log: Path


@contextmanager
def pgbouncer(database_url: str, *, pool_size: int) -> Iterator[Pgbouncer]:
    """pgbouncer in transaction mode passing every database on to the server of
    `database_url`, with at most `pool_size` server connections per database."""
    binary = require_pgbouncer()
    server = urlsplit(database_url)
    port = free_port()
    # Readable by the unprivileged user pgbouncer becomes.
    directory = Path(tempfile.mkdtemp(prefix="helixq-pgbouncer-"))
    directory.chmod(0o755)
    user = server.username or "postgres"
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={server.hostname} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {directory / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 500\n"
    )
    for path in directory.iterdir():
        path.chmod(0o644)
    log = directory / "pgbouncer.log"
    argv = [binary, str(config)]
    if os.geteuid() == 0:
        argv[1:1] = ["-u", UNPRIVILEGED_USER]
    with log.open("ab") as output:
        process = subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = urlunsplit(server._replace(netloc=f"{user}@127.0.0.1:{port}"))
    try:
        wait_until(
            lambda: _answers(url) or process.poll() is not None,
            timeout_s=READY_TIMEOUT_S,
            what="pgbouncer",
        )
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text()[-2000:]}")
        yield Pgbouncer(url=url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True
