"""Publishing `deliver_webhook` tasks (Celery in production, a list in tests)."""

from typing import Protocol
from uuid import UUID

from celery import Celery

from shared.queues import TaskName


class DeliverySender(Protocol):
    """Publishes one delivery task, now or after `countdown_s`."""

    def send(self, delivery_id: UUID, *, countdown_s: float = 0) -> None: ...


class CeleryDeliverySender:
    """Sends `deliver_webhook` with the delivery id as its only argument."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def send(self, delivery_id: UUID, *, countdown_s: float = 0) -> None:
        """Publish to the webhooks queue (routed by TASK_QUEUE)."""
        self._app.send_task(
            TaskName.DELIVER_WEBHOOK.value,
            args=[str(delivery_id)],
            countdown=countdown_s or None,
        )
