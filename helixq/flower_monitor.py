"""Flower, Celery's monitor, with every tenant's queue on its Broker page.

Flower lists the queues its workers reported when it last inspected them (once at
start, then only when someone refreshes its Workers page), or the app's configured
queues when no worker answered. Tenant queues exist only at run time, so neither
source shows them reliably: a busy worker misses the start-up inspection and a
tenant created later never appears. Here the Broker page and `/api/queues/length`
list Flower's own queues plus one `tenant.<slug>` queue per tenant, re-read from
Postgres every HELIXQ_TENANT_REFRESH_S.
"""

import atexit
import contextlib
import logging
import signal
import sys
from types import FrameType
from typing import Any

from flower.api.tasks import GetQueueLengths
from flower.app import Flower
from flower.views.broker import BrokerView
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tornado.ioloop import PeriodicCallback

from shared.db.models import Tenant
from shared.queues import tenant_queue

logger = logging.getLogger(__name__)


class TenantQueueNames:
    """The names of every tenant's queue, as last read from Postgres."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.names: frozenset[str] = frozenset()

    def refresh(self) -> None:
        """Re-read the tenants (blocking: run it off Flower's event loop)."""
        with self._sessions() as session:
            slugs = session.scalars(select(Tenant.slug)).all()
        self.names = frozenset(map(tenant_queue, slugs))

    def refresh_quietly(self) -> None:
        """Refresh, keeping the last names when Postgres does not answer."""
        try:
            self.refresh()
        except Exception:
            # A monitor outlives a database restart: log, and try on the next tick.
            logger.exception("could not read the tenants; keeping the last queue list")


def _with_tenant_queues(flower: "TenantQueuesFlower", names: list[str]) -> list[str]:
    return sorted({*names, *flower.tenant_queues.names})


# Flower ships no type hints, so its classes are Any to mypy.
class TenantBrokerView(BrokerView):  # type: ignore[misc]
    """Flower's Broker page, listing every tenant's queue too."""

    def get_active_queue_names(self) -> list[str]:
        return _with_tenant_queues(self.application, super().get_active_queue_names())


class TenantQueueLengths(GetQueueLengths):  # type: ignore[misc]
    """Flower's `/api/queues/length`, listing every tenant's queue too."""

    def get_active_queue_names(self) -> list[str]:
        return _with_tenant_queues(self.application, super().get_active_queue_names())


class TenantQueuesFlower(Flower):  # type: ignore[misc]
    """Flower whose queue lists hold every tenant's queue, refreshed on a timer."""

    def __init__(
        self, *, tenant_queues: TenantQueueNames, refresh_s: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.tenant_queues = tenant_queues
        self._refresh_s = refresh_s
        url_prefix = self.options.url_prefix
        prefix = "/" + url_prefix.strip("/") if url_prefix else ""
        # Tornado matches rules added this way before the application's own.
        self.add_handlers(
            r".*",
            [
                (prefix + "/broker", TenantBrokerView),
                (prefix + "/api/queues/length", TenantQueueLengths),
            ],
        )

    def start(self) -> None:
        """Read the tenants, keep re-reading them, then run Flower's loop."""
        self.tenant_queues.refresh_quietly()
        PeriodicCallback(self._refresh, self._refresh_s * 1000).start()
        super().start()

    async def _refresh(self) -> None:
        await self.io_loop.run_in_executor(None, self.tenant_queues.refresh_quietly)


def run_flower(
    *, sessions: sessionmaker[Session], refresh_s: float, tornado_argv: list[str]
) -> None:
    """Run Flower on the workers' Celery app until SIGTERM or Ctrl-C.

    `tornado_argv` are Flower's own options (`--port=5555`); FLOWER_* variables and
    a flowerconfig.py are read as Flower's own command reads them.
    """
    from flower.command import (
        apply_env_options,
        apply_options,
        extract_settings,
        print_banner,
        setup_logging,
    )
    from flower.urls import settings
    from tornado.options import options

    from workers.runtime.celery_app import app

    apply_env_options()
    apply_options("helixq flower", tornado_argv)
    extract_settings()
    setup_logging()
    flower = TenantQueuesFlower(
        capp=app,
        options=options,
        tenant_queues=TenantQueueNames(sessions),
        refresh_s=refresh_s,
        **settings,
    )
    atexit.register(flower.stop)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    port = flower.start_http_server()
    print_banner(app, "ssl_options" in settings, port)
    # Both are how a person or the supervisor stops Flower: not an error.
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        flower.start()


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)
