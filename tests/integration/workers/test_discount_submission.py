"""Discount-lane lines go to OpenRouter's Batch API grouped per model, recorded
before they are sent, and a lost POST answer is reconciled before any resend."""

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from shared.db.models import Job, Tenant
from shared.db.upstream_batches import UpstreamBatch
from shared.openrouter_key_store import set_openrouter_key
from shared.queues import tenant_queue
from shared.sealing import SecretBox
from tests.factories import make_job_body
from tests.integration.workers.conftest import BATCH_API_URL, ListSender
from workers.maintenance.discount_lane import callback_url
from workers.maintenance.discount_submission import (
    PASS_LOCK,
    DiscountConfig,
    DiscountDeps,
    submit_discount_lines,
)
from workers.openrouter.batches import BatchApi


def _deps(
    worker_process, router: respx.MockRouter, sender: ListSender, **config: Any
) -> DiscountDeps:
    settings = {"max_requests": 5000, "max_bytes": 200_000_000, "reconcile_after_s": 0}
    client = httpx.Client(transport=httpx.MockTransport(router.handler))
    return DiscountDeps(
        worker_process.sessions,
        BatchApi(client, BATCH_API_URL),
        sender,
        DiscountConfig(**{**settings, **config}),
    )


def _accepted(upstream_id: str, model: str, total: int) -> dict[str, Any]:
    return {
        "id": upstream_id,
        "object": "batch",
        "model": model,
        "status": "validating",
        "request_counts": {"total": total, "completed": 0, "failed": 0},
    }


def _rows(engine: Engine, batch_id: uuid.UUID) -> list[UpstreamBatch]:
    with Session(engine) as session:
        query = select(UpstreamBatch).where(UpstreamBatch.batch_id == batch_id)
        return list(session.scalars(query.order_by(UpstreamBatch.model)))


@pytest.fixture
def discount_batch(
    make_batch, make_job
) -> Callable[..., tuple[uuid.UUID, list[uuid.UUID]]]:
    def create(*models: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
        expires = datetime.now(UTC) + timedelta(days=1)
        batch_id = make_batch(total=len(models), expires_at=expires, lane="discount")
        jobs = [
            make_job(
                batch_id=batch_id,
                lane="discount",
                request=json.dumps(make_job_body(model=model)),
            )
            for model in models
        ]
        return batch_id, jobs

    return create


def test_lines_are_grouped_per_model_with_the_job_id_as_custom_id(
    worker_process, batch_api, engine, discount_batch
):
    model_a, model_b = f"a-{uuid.uuid4().hex[:6]}/m", f"b-{uuid.uuid4().hex[:6]}/m"
    batch_id, jobs = discount_batch(model_a, model_b, model_a)
    bodies: list[dict[str, Any]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        assert list(body)[-1] == "requests"  # OpenRouter reads it as a stream
        total = len(body["requests"])
        upstream_id = f"batch-{uuid.uuid4().hex}"
        return httpx.Response(202, json=_accepted(upstream_id, body["model"], total))

    batch_api.post("/batches").mock(side_effect=accept)

    submit_discount_lines(_deps(worker_process, batch_api, ListSender()))

    mine = {b["model"]: b for b in bodies if b["model"] in (model_a, model_b)}
    assert [r["custom_id"] for r in mine[model_a]["requests"]] == [
        str(jobs[0]),
        str(jobs[2]),
    ]
    assert [r["custom_id"] for r in mine[model_b]["requests"]] == [str(jobs[1])]
    assert "model" not in mine[model_a]["requests"][0]["body"]
    rows = _rows(engine, batch_id)
    assert [(r.model, r.request_count, r.status) for r in rows] == [
        (model_a, 2, "validating"),
        (model_b, 1, "validating"),
    ]
    assert all(r.upstream_id and r.sent_at for r in rows)


def test_a_group_larger_than_the_limit_is_split(
    worker_process, batch_api, engine, discount_batch
):
    model = f"s-{uuid.uuid4().hex[:6]}/m"
    batch_id, _ = discount_batch(model, model, model)
    batch_api.post("/batches").mock(
        side_effect=lambda request: httpx.Response(
            202, json=_accepted(f"batch-{uuid.uuid4().hex}", model, 1)
        )
    )

    submit_discount_lines(
        _deps(worker_process, batch_api, ListSender(), max_requests=2)
    )

    assert sorted(r.request_count for r in _rows(engine, batch_id)) == [1, 2]


def test_a_lost_answer_is_found_upstream_and_not_sent_again(
    worker_process, batch_api, engine, discount_batch
):
    model = f"lost-{uuid.uuid4().hex[:6]}/m"
    batch_id, _ = discount_batch(model, model)
    posted: list[str] = []

    def lose(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == model:
            posted.append(body["model"])
            raise httpx.RemoteProtocolError("connection closed before the answer")
        total = len(body["requests"])
        return httpx.Response(
            202, json=_accepted(uuid.uuid4().hex, body["model"], total)
        )

    batch_api.post("/batches").mock(side_effect=lose)
    listed = {
        "object": "list",
        "data": [_accepted("batch-found-upstream", model, 2)],
        "has_more": False,
        "first_id": "batch-found-upstream",
        "last_id": "batch-found-upstream",
    }
    batch_api.get("/batches").respond(200, json=listed)
    deps = _deps(worker_process, batch_api, ListSender())

    submit_discount_lines(deps)
    [row] = _rows(engine, batch_id)
    assert (row.status, row.upstream_id, row.send_count) == ("submitting", None, 1)

    submit_discount_lines(deps)

    [row] = _rows(engine, batch_id)
    assert (row.upstream_id, row.send_count) == ("batch-found-upstream", 1)
    assert posted == [model]


def test_a_lost_answer_not_found_upstream_is_sent_again(
    worker_process, batch_api, engine, discount_batch
):
    model = f"gone-{uuid.uuid4().hex[:6]}/m"
    batch_id, _ = discount_batch(model)
    answers = iter([httpx.ConnectError("reset"), None])

    def flaky(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == model:
            failure = next(answers)
            if failure is not None:
                raise failure
        total = len(body["requests"])
        return httpx.Response(
            202, json=_accepted(uuid.uuid4().hex, body["model"], total)
        )

    batch_api.post("/batches").mock(side_effect=flaky)
    empty = {"object": "list", "data": [], "has_more": False}
    batch_api.get("/batches").respond(200, json=empty)
    deps = _deps(worker_process, batch_api, ListSender())

    submit_discount_lines(deps)
    submit_discount_lines(deps)

    [row] = _rows(engine, batch_id)
    assert row.upstream_id is not None
    assert row.send_count == 2


def test_a_refused_submission_runs_its_lines_realtime(
    worker_process, batch_api, engine, discount_batch, tenant
):
    model = f"refused-{uuid.uuid4().hex[:6]}/m"
    batch_id, jobs = discount_batch(model)

    def refuse(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == model:
            message = f"Model '{model}' does not have a :batch endpoint."
            return httpx.Response(400, json={"error": {"message": message}})
        total = len(body["requests"])
        return httpx.Response(
            202, json=_accepted(uuid.uuid4().hex, body["model"], total)
        )

    batch_api.post("/batches").mock(side_effect=refuse)
    sender = ListSender()

    submit_discount_lines(_deps(worker_process, batch_api, sender))

    [row] = _rows(engine, batch_id)
    assert row.status == "refused"
    assert ":batch endpoint" in (row.error or "")
    with Session(engine) as session:
        job = session.get(Job, jobs[0])
        assert job is not None
        assert (job.lane, job.status) == ("realtime", "queued")
    assert (jobs[0], tenant_queue(tenant["slug"]), None) in sender.sent


def test_a_pass_waits_while_another_one_holds_the_submission(
    worker_process, batch_api, engine, discount_batch
):
    model = f"solo-{uuid.uuid4().hex[:6]}/m"
    batch_id, _ = discount_batch(model)
    batch_api.post("/batches").mock(
        side_effect=lambda request: httpx.Response(
            202, json=_accepted(f"batch-{uuid.uuid4().hex}", model, 1)
        )
    )
    deps = _deps(worker_process, batch_api, ListSender())
    with engine.connect() as other_pass:
        other_pass.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PASS_LOCK})
        assert submit_discount_lines(deps) == 0
        assert _rows(engine, batch_id) == []
        other_pass.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PASS_LOCK})
        other_pass.commit()

    submit_discount_lines(deps)

    assert len(_rows(engine, batch_id)) == 1


def test_with_a_public_url_the_callback_points_at_helixq_before_the_requests(
    worker_process, batch_api, discount_batch
):
    model = f"hook-{uuid.uuid4().hex[:6]}/m"
    discount_batch(model)
    bodies: list[dict[str, Any]] = []

    def accept(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["model"] == model:
            bodies.append(body)
        return httpx.Response(
            202, json=_accepted(uuid.uuid4().hex, body["model"], len(body["requests"]))
        )

    batch_api.post("/batches").mock(side_effect=accept)
    url = callback_url("https://helixq.example.com/")

    submit_discount_lines(
        _deps(worker_process, batch_api, ListSender(), callback_url=url)
    )

    [body] = bodies
    assert body["callback_url"] == "https://helixq.example.com/v1/discount/callbacks"
    keys = list(body)
    assert keys.index("callback_url") < keys.index("requests")


def test_a_tenant_on_its_own_key_sends_its_batches_with_it(
    worker_process, batch_api, engine, discount_batch, tenant
):
    box = SecretBox("the sealing key of the discount lane tests")
    own_key = "sk-or-v1-" + uuid.uuid4().hex + uuid.uuid4().hex
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        assert row is not None
        set_openrouter_key(row, own_key, box=box, now=datetime.now(UTC))
    model = f"k-{uuid.uuid4().hex[:6]}/m"
    batch_id, _jobs = discount_batch(model)
    keys_by_model: dict[str, str] = {}

    def accept(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        keys_by_model[body["model"]] = request.headers["Authorization"]
        upstream_id = f"batch-{uuid.uuid4().hex}"
        return httpx.Response(202, json=_accepted(upstream_id, body["model"], 1))

    batch_api.post("/batches").mock(side_effect=accept)
    deps = _deps(worker_process, batch_api, ListSender())

    submit_discount_lines(replace(deps, box=box))

    assert keys_by_model[model] == f"Bearer {own_key}"
    assert [r.status for r in _rows(engine, batch_id)] == ["validating"]


def test_a_tenant_key_no_secret_key_opens_is_never_sent_on_the_global_key(
    worker_process, batch_api, engine, discount_batch, tenant
):
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        assert row is not None
        set_openrouter_key(
            row,
            "sk-or-v1-" + uuid.uuid4().hex + uuid.uuid4().hex,
            box=SecretBox("a sealing key this worker was never given"),
            now=datetime.now(UTC),
        )
    model = f"u-{uuid.uuid4().hex[:6]}/m"
    _batch_id, jobs = discount_batch(model)
    sent: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["model"])
        return httpx.Response(500)

    batch_api.post("/batches").mock(side_effect=refuse)
    sender = ListSender()

    submit_discount_lines(_deps(worker_process, batch_api, sender))

    assert model not in sent
    with Session(engine) as session:
        job = session.get(Job, jobs[0])
        assert job is not None
        assert job.lane == "realtime"  # where its key's refusal is told
