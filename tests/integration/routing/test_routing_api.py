"""GET /v1/models, GET /v1/stats/models, the admin routing endpoints and the
routing decision in GET /v1/jobs/{id}, over the real database and Redis."""

import uuid

import pytest
import redis
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from shared.db.models import Job, Tenant
from shared.routing.decision import FailureNote, RoutingDecision
from shared.routing.performance import AttemptSample
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN
from workers.routing.performance_store import PerformanceStore

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_models_are_listed_in_openai_format_with_exact_prices(
    routing_api, tenant, catalog_models
):
    response = await routing_api.get("/v1/models", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    listed = {item["id"]: item for item in body["data"]}
    cheap = listed[catalog_models[0].id]
    assert cheap["object"] == "model"
    assert cheap["owned_by"] == catalog_models[0].id.split("/")[0]
    assert cheap["pricing"] == {
        "prompt": "0.00000015",
        "completion": "0.0000006",
        "web_search": "0.01",
    }
    assert listed[catalog_models[1].id]["pricing"]["prompt"] == "-1"


async def test_one_model_by_id_and_unknown_is_404(routing_api, tenant, catalog_models):
    found = await routing_api.get(
        f"/v1/models/{catalog_models[0].id}", headers=tenant.headers
    )
    assert found.json()["context_length"] == 128_000
    missing = await routing_api.get("/v1/models/nobody/nothing", headers=tenant.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/v1/models", "/v1/stats/models"])
async def test_models_and_stats_need_a_tenant_key(routing_api, path):
    assert (await routing_api.get(path)).status_code == 401


async def test_stats_show_the_performance_cache(
    routing_api, tenant, redis_client: redis.Redis
):
    store = PerformanceStore(redis_client)
    store.record("m/fast", AttemptSample(True, 200, 40))
    store.record("m/fast", AttemptSample(False, 900))
    response = await routing_api.get("/v1/stats/models", headers=tenant.headers)
    assert response.status_code == 200, response.text
    (stats,) = [item for item in response.json()["data"] if item["model"] == "m/fast"]
    assert stats["latency_ms"] == pytest.approx(200)
    assert stats["success_rate"] == pytest.approx(0.5, abs=0.01)
    assert stats["is_cold"] is True
    assert response.json()["half_life_s"] == 600


async def test_admin_sets_and_reads_a_tenant_routing(
    routing_api, tenant, catalog_models
):
    cheap = catalog_models[0].id
    config = {
        "default_model": cheap,
        "route_strategy": "weighted",
        "fallback_strategy": "cost_optimized",
        "model_pool": [
            {"model": cheap, "weight": 3, "tier": "code"},
            {"model": catalog_models[1].id},
        ],
    }
    put = await routing_api.put(
        f"/admin/tenants/{tenant.slug}/routing", json=config, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    got = await routing_api.get(f"/admin/tenants/{tenant.slug}/routing", headers=ADMIN)
    assert got.json()["model_pool"] == [
        {"model": cheap, "weight": 3, "tier": "code"},
        {"model": catalog_models[1].id, "weight": 1, "tier": None},
    ]
    assert got.json()["route_strategy"] == "weighted"
    assert got.json()["model_substitution"] is None


async def test_admin_sets_the_tenant_model_substitution(routing_api, tenant, engine):
    url = f"/admin/tenants/{tenant.slug}/routing"
    put = await routing_api.put(
        url, json={"model_substitution": "on_failure"}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    got = await routing_api.get(url, headers=ADMIN)
    assert got.json()["model_substitution"] == "on_failure"
    with Session(engine) as session:
        stored = session.scalar(select(Tenant).where(Tenant.slug == tenant.slug))
        assert stored is not None
        assert stored.model_substitution == "on_failure"


@pytest.mark.parametrize(
    ("change", "field", "suggestion"),
    [
        ({"route_strategy": "round-robin"}, "route_strategy", "round_robin"),
        ({"fallback_strategy": "cost"}, "fallback_strategy", None),
        ({"model_substitution": "anyy"}, "model_substitution", "any"),
        (
            {"model_pool": [{"model": "CHEAP", "tier": "cod"}]},
            "model_pool[0].tier",
            "code",
        ),
    ],
)
async def test_admin_refuses_unknown_names(
    routing_api, tenant, change, field, suggestion
):
    response = await routing_api.put(
        f"/admin/tenants/{tenant.slug}/routing", json=change, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details["field"] == field
    if suggestion:
        assert details["suggestions"][0] == suggestion


async def test_admin_refuses_a_model_missing_from_the_catalog(
    routing_api, tenant, catalog_models
):
    typo = catalog_models[0].id.replace("cheap-mini", "cheap-mni")
    response = await routing_api.put(
        f"/admin/tenants/{tenant.slug}/routing",
        json={"model_pool": [{"model": typo}]},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["suggestions"][0] == catalog_models[0].id


async def test_admin_refuses_a_new_tenant_whose_default_model_is_not_listed(
    routing_api, catalog_models, engine: Engine
):
    typo = catalog_models[0].id.replace("cheap-mini", "cheap-mni")
    name = f"typo-{uuid.uuid4().hex[:8]}"
    response = await routing_api.post(
        "/admin/tenants", json={"name": name, "default_model": typo}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["field"] == "default_model"
    assert error["details"]["suggestions"][0] == catalog_models[0].id
    with Session(engine) as session:
        assert session.scalar(select(Tenant).where(Tenant.slug == name)) is None


async def test_admin_routing_needs_the_admin_token(routing_api, tenant):
    response = await routing_api.get(
        f"/admin/tenants/{tenant.slug}/routing", headers=tenant.headers
    )
    assert response.status_code == 401


async def test_job_view_shows_the_routing_decision(routing_api, tenant, engine: Engine):
    created = await routing_api.post(
        "/v1/jobs", json=make_job_body(), headers=tenant.headers
    )
    job_id = created.json()["id"]
    decision = RoutingDecision(
        strategy="cost_optimized",
        fallback="basic",
        candidates=("a/one", "b/two"),
        reason="cheapest feasible",
        failures=(FailureNote("a/one", "upstream_timeout", None, True),),
    ).with_model_used("b/two")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(job_id))
            .values(routing=decision.to_json())
        )
    view = (await routing_api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)).json()
    assert RoutingDecision.from_json(view["routing"]) == decision
