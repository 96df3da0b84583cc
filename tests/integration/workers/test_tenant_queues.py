"""Workers pick up the queue of a tenant created while they run."""

from shared.queues import tenant_queue
from tests.unit.workers.test_tenant_queues import FakeConsumer
from workers.tenant_queues import TenantQueues


def test_refresh_adds_existing_then_new_tenants_once(
    worker_context, tenant, make_tenant
):
    consumer = FakeConsumer()
    queues = TenantQueues(consumer)

    queues.refresh(worker_context.sessions)
    assert tenant_queue(tenant["slug"]) in consumer.queues
    newcomer = make_tenant()  # created while the worker runs
    added = queues.refresh(worker_context.sessions)

    assert added == [tenant_queue(newcomer["slug"])]
    assert consumer.queues.count(tenant_queue(tenant["slug"])) == 1
