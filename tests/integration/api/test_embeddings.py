"""`POST /v1/embeddings` becomes a job and waits for it; a stand-in worker ends it."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from shared.db.models import CatalogModel, Job
from shared.routing.catalog import ModelInfo
from tests.integration.api.conftest import TenantCredentials
from tests.integration.api.test_chat_completions import finish_first_job
from tests.recording_enqueuer import RecordingEnqueuer
from workers.maintenance.catalog_sync import upsert_catalog

pytestmark = pytest.mark.anyio

RESULT = {
    "id": "gen-emb-1",
    "object": "list",
    "data": [
        {"object": "embedding", "index": 0, "embedding": [0.6, 0.8]},
        {"object": "embedding", "index": 1, "embedding": [0.8, 0.6]},
    ],
    "model": "openai/text-embedding-3-small",
    "provider": "OpenAI",
    "usage": {"prompt_tokens": 2, "total_tokens": 2, "cost": 0.00000004},
}


@pytest.fixture
def embedding_model(engine: Engine) -> Iterator[str]:
    """One listed embedding model beside the chat models, removed afterwards."""
    model_id = f"emb{uuid.uuid4().hex[:8]}/small"
    model = ModelInfo(
        id=model_id,
        name=model_id,
        context_length=8192,
        max_completion_tokens=None,
        prompt_price=Decimal("0.00000002"),
        completion_price=Decimal(0),
        pricing={"prompt": "0.00000002"},
        output_modalities=("embeddings",),
    )
    chat = ModelInfo(
        id=f"{model_id}-chat",
        name="chat",
        context_length=8192,
        max_completion_tokens=None,
        prompt_price=Decimal(0),
        completion_price=Decimal(0),
        output_modalities=("text",),
    )
    with Session(engine) as session, session.begin():
        upsert_catalog(
            session, [model, chat], now=datetime.now(UTC), unlist_missing=False
        )
    yield model_id
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CatalogModel).where(CatalogModel.id.in_([model_id, chat.id]))
        )


async def test_answers_openai_embeddings_when_the_job_succeeds(
    api,
    tenant: TenantCredentials,
    enqueuer: RecordingEnqueuer,
    engine,
    services,
    embedding_model,
) -> None:
    body = {
        "model": embedding_model,
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
        "route": {"fallback": "basic"},
    }
    response, _ = await asyncio.gather(
        api.post("/v1/embeddings", json=body, headers=tenant.headers),
        finish_first_job(enqueuer, engine, services, status="succeeded", result=RESULT),
    )
    assert response.status_code == 200
    assert response.json() == RESULT
    job_id = uuid.UUID(response.headers["x-helixq-job-id"])
    assert enqueuer.priorities == [0]  # interactive, as a chat completion
    with Session(engine) as session:
        job = session.scalar(select(Job).where(Job.id == job_id))
    assert job is not None
    # Sent to OpenRouter as given, without helixq's own fields.
    assert job.request == {
        "model": embedding_model,
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert job.route == {"fallback": "basic"}


async def test_a_chat_model_is_refused_with_the_embedding_models_it_may_mean(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, embedding_model
) -> None:
    response = await api.post(
        "/v1/embeddings",
        json={"model": f"{embedding_model}-chat", "input": "x"},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("unknown embedding model")
    assert embedding_model in error["details"]["suggestions"]
    assert not enqueuer.sent


@pytest.mark.parametrize(
    "body",
    [
        {"model": "a/b"},
        {"input": ""},
        {"input": []},
        {"input": [[]]},
        {"input": "x", "encoding_format": "hex"},
        {"input": "x", "dimensions": 0},
        {"input": "x", "messages": [{"role": "user", "content": "hi"}]},
        {"input": "x", "stream": True},
        {"input": ["x"] * 2049},
    ],
)
async def test_bad_bodies_are_422_and_queue_nothing(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, body
) -> None:
    response = await api.post("/v1/embeddings", json=body, headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert not enqueuer.sent


async def test_an_unknown_key_is_401(api) -> None:
    response = await api.post(
        "/v1/embeddings",
        json={"input": "x"},
        headers={"Authorization": "Bearer hq-nope"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
