"""Workers pick up the queue of a tenant created while they run."""

from collections.abc import Iterator

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import text

from shared.queues import tenant_queue
from tests.factories import unique_name
from tests.unit.workers.test_tenant_queues import FakeConsumer
from workers.runtime.tenant_queues import TenantQueues
from workers.runtime.weighted_cycle import QueueWeights, queue_weights


def test_refresh_adds_existing_then_new_tenants_once(
    worker_process, tenant, make_tenant
):
    consumer = FakeConsumer()
    queues = TenantQueues(consumer)

    queues.refresh(worker_process.sessions)
    assert tenant_queue(tenant["slug"]) in consumer.queues
    newcomer = make_tenant()  # created while the worker runs
    added = queues.refresh(worker_process.sessions)

    assert added == [tenant_queue(newcomer["slug"])]
    assert consumer.queues.count(tenant_queue(tenant["slug"])) == 1


def test_refresh_takes_the_weights_from_the_tenants_limits(
    worker_process, engine, make_tenant
):
    heavy, light = make_tenant(), make_tenant()
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET limits = '{\"weight\": 4}' WHERE id = :id"),
            {"id": heavy["id"]},
        )
    weights = QueueWeights()

    TenantQueues(FakeConsumer(), weights).refresh(worker_process.sessions)

    assert weights.of(tenant_queue(heavy["slug"])) == 4
    assert weights.of(tenant_queue(light["slug"])) == 1


@pytest.fixture
def weights_of_this_process() -> Iterator[QueueWeights]:
    yield queue_weights
    queue_weights.replace({})


def test_redis_transport_serves_queues_by_weight(services, weights_of_this_process):
    """Two tenants flooding at once, one of weight 3, through kombu's real Redis
    transport with the option the worker app sets."""
    heavy, light = (f"tenant.{unique_name('wrr')}" for _ in range(2))
    weights_of_this_process.replace({heavy: 3})
    options = {"queue_order_strategy": "workers.runtime.weighted_cycle:WeightedCycle"}
    served: list[str] = []
    with Connection(services.redis_url, transport_options=options) as connection:
        queues = [
            Queue(name, Exchange(name), routing_key=name) for name in (heavy, light)
        ]
        producer = connection.Producer()
        for queue in queues:
            for number in range(40):
                producer.publish(
                    {"n": number},
                    exchange=queue.exchange,
                    routing_key=queue.routing_key,
                    declare=[queue],
                )

        def take(body, message):
            served.append(message.delivery_info["routing_key"])
            message.ack()

        with connection.Consumer(queues, callbacks=[take], accept=["json"]):
            while len(served) < 40:
                connection.drain_events(timeout=5)
        for queue in queues:
            queue(connection.default_channel).delete()

    assert served.count(heavy) == 30
    assert served.count(light) == 10
