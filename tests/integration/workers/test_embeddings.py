"""Embeddings jobs on a real WorkerProcess: the call goes to `/embeddings`, its cost
lands in the ledger, and routing chooses among embedding models only."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from shared.db.models import CatalogModel
from shared.jobs import JobStatus
from shared.routing.catalog import ModelInfo
from tests.integration.workers.conftest import fetch_attempts, fetch_job
from workers.jobs.endings import OutcomeKind
from workers.maintenance.catalog_sync import upsert_catalog

pytestmark = pytest.mark.timeout(30)


def _embedding_model(model_id: str, prompt_price: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        context_length=8192,
        max_completion_tokens=None,
        prompt_price=Decimal(prompt_price),
        completion_price=Decimal(0),
        pricing={"prompt": prompt_price, "completion": "0"},
        output_modalities=("embeddings",),
    )


@pytest.fixture
def embedding_models(engine: Engine) -> Iterator[list[str]]:
    """Two listed embedding models (the cheaper first), removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    models = [
        _embedding_model(f"emb{tag}/small", "0.00000002"),
        _embedding_model(f"emb{tag}/large", "0.00000013"),
    ]
    with Session(engine) as session, session.begin():
        upsert_catalog(session, models, now=datetime.now(UTC), unlist_missing=False)
    yield [model.id for model in models]
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CatalogModel).where(CatalogModel.id.in_([m.id for m in models]))
        )


def _embeddings_body(model: str, vectors: int = 2) -> dict[str, object]:
    return {
        "id": "gen-emb-1",
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": [0.6, 0.8]}
            for index in range(vectors)
        ],
        "model": model,
        "provider": "OpenAI",
        "usage": {"prompt_tokens": 6, "total_tokens": 6, "cost": 0.00000012},
    }


def _sent(route) -> list[dict[str, object]]:
    return [json.loads(call.request.content) for call in route.calls]


def test_an_embeddings_job_calls_embeddings_and_records_its_cost(
    worker_process, openrouter_mock, make_job, engine, embedding_models
):
    small = embedding_models[0]
    embeddings = openrouter_mock.post("/embeddings").mock(
        return_value=httpx.Response(200, json=_embeddings_body(small))
    )
    chat = openrouter_mock.post("/chat/completions")
    request = {"model": small, "input": ["one", "two"], "dimensions": 2}
    job_id = make_job(request=json.dumps(request))

    outcome = worker_process.loop.run(worker_process.completions.run(job_id))

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert not chat.called
    assert _sent(embeddings) == [request]
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == _embeddings_body(small)
    assert (job.prompt_tokens, job.completion_tokens) == (6, 0)
    assert job.cost_usd == Decimal("0.00000012")
    [attempt] = fetch_attempts(engine, job_id)
    assert (attempt.model, attempt.outcome) == (small, "succeeded")
    assert attempt.cost_usd == Decimal("0.00000012")


def test_without_a_model_the_strategy_chooses_among_embedding_models_only(
    worker_process, openrouter_mock, make_job, engine, embedding_models
):
    # The tenant's default model is a chat model: it is never a candidate here.
    small, large = embedding_models
    embeddings = openrouter_mock.post("/embeddings").mock(
        return_value=httpx.Response(200, json=_embeddings_body(small, vectors=1))
    )
    job_id = make_job(
        request=json.dumps({"input": "hello"}),
        route=json.dumps({"strategy": "cost_optimized"}),
    )

    outcome = worker_process.loop.run(worker_process.completions.run(job_id))

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert [body["model"] for body in _sent(embeddings)] == [small]
    routing = fetch_job(engine, job_id).routing
    assert set(routing["candidates"]) == {small, large}


def test_a_failing_embedding_model_fails_over_to_another_embedding_model(
    worker_process, openrouter_mock, make_job, engine, embedding_models
):
    small, large = embedding_models
    embeddings = openrouter_mock.post("/embeddings").mock(
        side_effect=[
            httpx.Response(503, json={"error": {"code": 503, "message": "down"}}),
            httpx.Response(200, json=_embeddings_body(large, vectors=1)),
        ]
    )
    job_id = make_job(
        request=json.dumps({"input": "hello"}),
        route=json.dumps({"strategy": "cost_optimized"}),
    )

    outcome = worker_process.loop.run(worker_process.completions.run(job_id))

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert [body["model"] for body in _sent(embeddings)] == [small, large]
    attempts = fetch_attempts(engine, job_id)
    assert [(a.model, a.outcome) for a in attempts] == [
        (small, "retryable"),
        (large, "succeeded"),
    ]


def test_an_upstream_refusal_fails_the_job_with_its_code(
    worker_process, openrouter_mock, make_job, engine, embedding_models
):
    small = embedding_models[0]
    openrouter_mock.post("/embeddings").mock(
        return_value=httpx.Response(
            400, json={"error": {"code": 400, "message": "dimensions too large"}}
        )
    )
    job_id = make_job(request=json.dumps({"model": small, "input": "x"}))

    outcome = worker_process.loop.run(worker_process.completions.run(job_id))

    assert outcome.kind is OutcomeKind.FAILED
    job = fetch_job(engine, job_id)
    assert (job.error_code, job.error_message) == (
        "upstream_bad_request",
        "dimensions too large",
    )
