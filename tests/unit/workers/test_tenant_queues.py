"""New tenants' queues are added to the consumer once."""

from workers.runtime.tenant_queues import TenantQueues


class FakeConsumer:
    def __init__(self) -> None:
        self.queues: list[str] = []

    def add_task_queue(self, queue: str) -> None:
        self.queues.append(queue)


def test_each_tenant_queue_is_added_once():
    consumer = FakeConsumer()
    queues = TenantQueues(consumer)

    first = queues.add(["acme", "globex"])
    second = queues.add(["acme", "globex", "initech"])

    assert first == ["tenant.acme", "tenant.globex"]
    assert second == ["tenant.initech"]
    assert consumer.queues == ["tenant.acme", "tenant.globex", "tenant.initech"]
