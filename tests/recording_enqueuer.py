"""The Enqueuer tests hand the API: it records what would have been published."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from broker_api.enqueue import Priority


@dataclass
class RecordingEnqueuer:
    """Implements broker_api.enqueue.Enqueuer and nothing more, so a test cannot
    lean on a method the production enqueuer lacks."""

    sent: list[tuple[UUID, str]] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    webhooks: list[UUID] = field(default_factory=list)
    upstream_polls: int = 0
    fail: bool = False  # every publish raises, as with Redis away

    async def enqueue_completion(
        self, job_id: UUID, tenant_slug: str, priority: Priority = Priority.JOB
    ) -> None:
        await self.enqueue_completions([job_id], tenant_slug, priority)

    async def enqueue_completions(
        self, job_ids: Sequence[UUID], tenant_slug: str, priority: Priority
    ) -> None:
        self._raise_if_failing()
        self.sent.extend((job_id, tenant_slug) for job_id in job_ids)
        self.priorities.extend(int(priority) for _ in job_ids)

    async def enqueue_webhook(self, delivery_id: UUID) -> None:
        self._raise_if_failing()
        self.webhooks.append(delivery_id)

    async def enqueue_upstream_poll(self) -> None:
        self._raise_if_failing()
        self.upstream_polls += 1

    async def close(self) -> None:
        pass

    def _raise_if_failing(self) -> None:
        if self.fail:
            raise ConnectionError("redis is down")
