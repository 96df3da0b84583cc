"""Consume every tenant's queue, including tenants created while the worker runs.

A consumer bootstep reads the tenants from Postgres every HELIXQ_TENANT_REFRESH_S,
starts consuming `tenant.<slug>` for each new one and updates the tenants'
weights. Celery's Redis transport polls the queues in weighted rotation
(workers.runtime.weighted_cycle), which is what fairness between tenants builds on.
"""

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from celery import bootsteps
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.queues import tenant_queue
from workers.runtime.process import provider_of
from workers.runtime.weighted_cycle import QueueWeights, queue_weights

logger = logging.getLogger(__name__)

_TENANTS = text(
    "SELECT slug, CAST(limits->>'weight' AS integer) AS weight"
    " FROM tenants ORDER BY created_at"
)


class QueueConsumer(Protocol):
    """The part of Celery's worker consumer this module uses."""

    def add_task_queue(self, queue: str) -> object: ...


class TenantQueues:
    """Remembers which tenant queues a consumer already reads and adds new ones."""

    def __init__(
        self, consumer: QueueConsumer, weights: QueueWeights = queue_weights
    ) -> None:
        self._consumer = consumer
        self._weights = weights
        self._known: set[str] = set()

    def add(self, slugs: Iterable[str]) -> list[str]:
        """Start consuming the queues of `slugs` not seen before; the queues added."""
        added = []
        for queue in map(tenant_queue, slugs):
            if queue not in self._known:
                self._consumer.add_task_queue(queue)
                self._known.add(queue)
                added.append(queue)
        return added

    def refresh(self, sessions: sessionmaker[Session]) -> list[str]:
        """Read the tenants, update their weights and add the queues of new ones."""
        with sessions() as session:
            tenants = session.execute(_TENANTS).all()
        self._weights.replace(
            {tenant_queue(row.slug): row.weight for row in tenants if row.weight}
        )
        added = self.add(row.slug for row in tenants)
        if added:
            logger.info("consuming %d new tenant queues: %s", len(added), added)
        return added


class TenantQueuesStep(bootsteps.StartStopStep):
    """Consumer bootstep running TenantQueues.refresh on the consumer's timer."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None

    def start(self, parent: Any) -> None:
        """Add the queues now, then every refresh interval."""
        process = provider_of(parent.app).get()
        queues = TenantQueues(parent)
        queues.refresh(process.sessions)
        self._timer_entry = parent.timer.call_repeatedly(
            process.settings.helixq_tenant_refresh_s,
            _refresh_quietly,
            (queues, process.sessions),
        )

    def stop(self, parent: Any) -> None:  # noqa: ARG002 (Celery's signature)
        """Stop refreshing (the consumer restarts us on reconnect)."""
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None


def _refresh_quietly(queues: TenantQueues, sessions: sessionmaker[Session]) -> None:
    # A timer callback that raises would stop the consumer: log and try next tick.
    try:
        queues.refresh(sessions)
    except Exception:
        logger.exception("could not refresh the tenant queues")
