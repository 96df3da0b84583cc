"""What the API benchmarks share: scratch services, a tenant, the API processes."""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from helixq.processes import Supervisor, answers, free_port
from helixq.scratch_services import fresh_database, redis_database
from shared.db.session import psycopg_url
from shared.tenancy import create_api_key, create_tenant

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60
STOP_GRACE_S = 20
SIMULATOR_KEY = "sk-or-v1-bench"


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    tenant_key: str
    tenant_slug: str

    def env(self, simulator_url: str | None = None, **extra: str) -> dict[str, str]:
        """The environment of the broker's processes on these services."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "HELIXQ_SEED_TENANTS": "false",
            "HELIXQ_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        if simulator_url is not None:
            env["OPENROUTER_API_KEY"] = SIMULATOR_KEY
            env["OPENROUTER_BASE_URL"] = f"{simulator_url}/api/v1"
        return env


def scratch_services(database: str, redis_db: int) -> Services:
    """A fresh migrated database, a flushed Redis db and one tenant with a key."""
    database_url = fresh_database(os.environ["DATABASE_URL"], database)
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), redis_db
    )
    redis.Redis.from_url(redis_url).flushdb()
    engine = create_engine(psycopg_url(database_url))
    with Session(engine) as session, session.begin():
        tenant = create_tenant(session, "bench-submit")
        key = create_api_key(session, tenant).key
        slug = tenant.slug
    engine.dispose()
    return Services(database_url, redis_url, key, slug)


@contextmanager
def api(env: Mapping[str, str], *, workers: int = 1) -> Iterator[tuple[str, int]]:
    """`helixq api --workers N` on a free port; yields its URL and the pid whose
    process tree is the API (its output goes to a log named on failure)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    helixq = Path(sys.executable).parent / "helixq"
    log = Path(f"/tmp/helixq-bench-api-{port}.log")
    supervisor = Supervisor(cwd=ROOT)
    argv = [str(helixq), "api", "--port", str(port)]
    if workers != 1:
        argv += ["--workers", str(workers)]
    try:
        pid = supervisor.start("api", argv, env, log=log)
        supervisor.wait_until_ready(
            lambda: answers(f"{url}/healthz"), timeout_s=READY_TIMEOUT_S, what="API"
        )
        yield url, pid
    except BaseException:
        print(f"the API's output: {log}", file=sys.stderr)
        raise
    finally:
        supervisor.stop_all(STOP_GRACE_S)
