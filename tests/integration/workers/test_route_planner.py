"""Routing on the event loop: the planner reads the catalog, the performance cache
and the shared round-robin position with the loop's own clients, never in a thread."""

import asyncio
import random
from collections import Counter
from concurrent.futures import Executor

import pytest

from tests.factories import make_job_body
from workers.routing.catalog import CatalogCache
from workers.routing.planner import RoutePlanner, TenantFacts

POOL = [
    {"model": "openai/gpt-4o-mini", "weight": 2, "tier": None},
    {"model": "anthropic/claude-3.5-haiku", "weight": 1, "tier": None},
]


class NoThreads(Executor):
    """The loop's default executor: planning must never hand work to a thread."""

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError(f"{fn!r} was sent off the event loop")


def _tenant(**routing) -> TenantFacts:
    fields = {
        "default_model": None,
        "route_strategy": None,
        "fallback_strategy": None,
        "model_pool": None,
        "model_substitution": None,
        **routing,
    }
    return TenantFacts(slug="acme", **fields)


def _unnamed() -> dict:
    request = make_job_body(model=None)
    request.pop("model", None)
    return request


@pytest.fixture
def plan(worker_process, worker_settings):
    """Plan one job on the worker's loop, with no thread to fall back on."""
    planner = RoutePlanner(
        catalog=CatalogCache.on(worker_process.db),
        redis=worker_process.redis_batch,
        settings=worker_settings,
        rng=random.Random(7),
    )

    async def on_loop(request, tenant, override):
        asyncio.get_running_loop().set_default_executor(NoThreads())
        return await planner.plan(request, tenant, override)

    return lambda request, tenant, override=None: worker_process.loop.run(
        on_loop(request, tenant, override)
    )


@pytest.mark.parametrize(
    ("request_model", "tenant", "override"),
    [
        ("openai/gpt-4o-mini", _tenant(), None),
        # The shared round-robin position lives in Redis.
        (None, _tenant(route_strategy="round_robin", model_pool=POOL), None),
        # Plain round robin over the pool when nothing names a model.
        (None, _tenant(model_pool=POOL), None),
        # The performance cache lives in Redis.
        (None, _tenant(model_pool=POOL), {"strategy": "performance_optimized"}),
        # ... and orders the tenant's models after a named one.
        (
            "openai/gpt-4o-mini",
            _tenant(model_pool=POOL, model_substitution="on_failure"),
            {"fallback": "performance_optimized"},
        ),
    ],
)
def test_planning_never_leaves_the_event_loop(plan, request_model, tenant, override):
    request = (
        _unnamed() if request_model is None else make_job_body(model=request_model)
    )

    decision = plan(request, tenant, override).decision

    assert decision.candidates
    if request_model is not None:
        assert decision.candidates[0] == request_model


def test_round_robin_follows_the_weights_from_the_shared_position(plan):
    tenant = _tenant(route_strategy="round_robin", model_pool=POOL)

    firsts = Counter(plan(_unnamed(), tenant).decision.candidates[0] for _ in range(6))

    assert firsts == {"openai/gpt-4o-mini": 4, "anthropic/claude-3.5-haiku": 2}


@pytest.mark.parametrize(
    "tenant",
    [
        _tenant(route_strategy="performance_optimized", model_pool=POOL),
        _tenant(route_strategy="round_robin", model_pool=POOL),
    ],
)
def test_a_named_model_is_called_as_named_whatever_the_strategy(plan, tenant):
    request = make_job_body(model="anthropic/claude-3.5-haiku")

    decision = plan(request, tenant).decision

    assert decision.candidates == ("anthropic/claude-3.5-haiku",)


@pytest.mark.parametrize(
    "strategy", ["round_robin", "weighted", "performance_optimized", "cost_optimized"]
)
def test_the_worker_routes_only_among_the_models_the_job_was_allowed(plan, strategy):
    """The list a job was accepted under travels in its route (the submitting key's
    and tenant's): the pool's other models are never candidates."""
    tenant = _tenant(
        route_strategy=strategy, model_pool=POOL, default_model="openai/gpt-4o"
    )
    allowed = {"allowed_models": ["anthropic/claude-3.5-haiku"]}

    for _ in range(4):
        decision = plan(_unnamed(), tenant, allowed).decision
        assert decision.candidates == ("anthropic/claude-3.5-haiku",)
    unbounded = {plan(_unnamed(), tenant).decision.candidates for _ in range(4)}
    assert any(len(candidates) > 1 for candidates in unbounded)
