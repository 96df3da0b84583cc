"""Planning on the event loop when the cached catalog is enough, and only then."""

import pytest

from tests.factories import make_job_body
from workers.routing.planner import TenantFacts

POOL = [
    {"model": "openai/gpt-4o-mini", "weight": 2, "tier": None},
    {"model": "anthropic/claude-3.5-haiku", "weight": 1, "tier": None},
]


def _tenant(**routing) -> TenantFacts:
    fields = {
        "default_model": None,
        "route_strategy": None,
        "fallback_strategy": None,
        "model_pool": None,
        **routing,
    }
    return TenantFacts(slug="acme", **fields)


@pytest.fixture
def routes(worker_context):
    worker_context.routes.plan(make_job_body(), _tenant(), None)  # loads the catalog
    return worker_context.routes


def test_a_named_model_is_planned_on_the_loop_as_plan_would(routes):
    request = make_job_body(model="openai/gpt-4o-mini")

    planned = routes.plan_without_io(request, _tenant(), None)

    assert planned is not None
    assert planned.decision == routes.plan(request, _tenant(), None).decision


@pytest.mark.parametrize(
    ("tenant", "override"),
    [
        # The shared round-robin position lives in Redis.
        (_tenant(route_strategy="round_robin", model_pool=POOL), None),
        # Plain round robin over the pool when nothing names a model.
        (_tenant(model_pool=POOL), None),
        # The performance cache lives in Redis.
        (_tenant(model_pool=POOL), {"strategy": "performance_optimized"}),
    ],
)
def test_decisions_that_read_redis_are_left_to_plan(routes, tenant, override):
    request = make_job_body(model=None)
    request.pop("model", None)

    assert routes.plan_without_io(request, tenant, override) is None
    assert routes.plan(request, tenant, override).decision.candidates


def test_nothing_is_planned_on_the_loop_before_the_catalog_is_cached(worker_context):
    request = make_job_body(model="openai/gpt-4o-mini")

    assert worker_context.routes.plan_without_io(request, _tenant(), None) is None
