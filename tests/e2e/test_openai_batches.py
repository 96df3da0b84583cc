"""OpenAI's batch flow with the official SDK and nothing else: upload a JSONL file,
create a batch from it, poll, read the output file; list and delete; embeddings."""

import json
import time
from typing import Any

import openai
import pytest
from openai.types import Batch

from tests.e2e.conftest import Client, Stack

pytestmark = pytest.mark.timeout(120)

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
EMBEDDING_MODEL = "openai/text-embedding-3-small"
ENDED = {"completed", "failed", "expired", "cancelled"}


def sdk(stack: Stack, client: Client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=client.key, timeout=60)


def chat_line(custom_id: str, **body: object) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": CHAT,
        "body": {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": f"Say hello to {custom_id}"}],
            "max_tokens": 8,
            **body,
        },
    }


def embedding_line(custom_id: str) -> dict[str, object]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": EMBEDDINGS,
        "body": {"model": EMBEDDING_MODEL, "input": [f"text of {custom_id}", "more"]},
    }


def jsonl(lines: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def create_batch(
    api: openai.OpenAI, lines: list[dict[str, object]], endpoint: str = CHAT
) -> Batch:
    uploaded = api.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return api.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]  # the SDK's Literal
        completion_window="24h",
    )


def wait_ended(api: openai.OpenAI, batch_id: str, timeout_s: float = 90) -> Batch:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = api.batches.retrieve(batch_id)
        if batch.status in ENDED:
            return batch
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} still {batch.status} after {timeout_s}s")


def output_responses(api: openai.OpenAI, batch: Batch) -> dict[str, dict[str, Any]]:
    """Every line of a completed batch's output file, by custom_id."""
    assert batch.status == "completed"
    assert batch.output_file_id is not None
    assert batch.error_file_id is None
    output = api.files.content(batch.output_file_id).text
    lines = [json.loads(text) for text in output.splitlines()]
    return {line["custom_id"]: line["response"] for line in lines}


def test_files_of_100_chat_lines_and_20_embedding_lines_come_back_as_output_files(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    chat_ids = [f"req-{n}" for n in range(100)]
    embedding_ids = [f"emb-{n}" for n in range(20)]
    chat = create_batch(api, [chat_line(custom_id) for custom_id in chat_ids])
    embeddings = create_batch(
        api, [embedding_line(custom_id) for custom_id in embedding_ids], EMBEDDINGS
    )
    assert (chat.status, embeddings.status) == ("in_progress", "in_progress")
    assert (chat.endpoint, embeddings.endpoint) == (CHAT, EMBEDDINGS)

    chat = wait_ended(api, chat.id)
    assert chat.request_counts is not None
    assert (chat.request_counts.total, chat.request_counts.completed) == (100, 100)
    answers = output_responses(api, chat)
    assert sorted(answers) == sorted(chat_ids)
    assert {response["status_code"] for response in answers.values()} == {200}
    assert all(r["body"]["choices"][0]["message"]["content"] for r in answers.values())

    embeddings = wait_ended(api, embeddings.id)
    assert embeddings.request_counts is not None
    assert embeddings.request_counts.completed == 20
    vectors = output_responses(api, embeddings)
    assert sorted(vectors) == sorted(embedding_ids)
    assert {response["status_code"] for response in vectors.values()} == {200}
    for response in vectors.values():
        body = response["body"]
        assert (body["object"], body["model"]) == ("list", EMBEDDING_MODEL)
        assert [item["index"] for item in body["data"]] == [0, 1]
        assert {len(item["embedding"]) for item in body["data"]} == {1536}
        assert body["usage"]["cost"] > 0


def test_embeddings_create_answers_through_the_queue(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    # The SDK asks for base64 and decodes it: the encoding passes through.
    answer = api.embeddings.create(
        model=EMBEDDING_MODEL, input=["one", "two", "one"], dimensions=8
    )
    vectors = [item.embedding for item in answer.data]
    assert [len(vector) for vector in vectors] == [8, 8, 8]
    assert vectors[0] == vectors[2] != vectors[1]
    assert abs(sum(v * v for v in vectors[0]) - 1.0) < 1e-5
    assert answer.model == EMBEDDING_MODEL
    assert answer.usage.prompt_tokens == 3


def test_an_embeddings_file_for_the_chat_endpoint_fails_naming_its_lines(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    lines = [embedding_line("a"), embedding_line("b")]
    batch = wait_ended(api, create_batch(api, lines, CHAT).id)
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert [error.line for error in batch.errors.data] == [1, 2]


def test_a_file_with_one_bad_line_fails_naming_that_line(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    lines = [chat_line("good"), chat_line("bad", temperature=9), chat_line("fine")]
    batch = wait_ended(api, create_batch(api, lines).id)
    assert batch.status == "failed"
    assert batch.errors is not None
    assert batch.errors.data is not None
    assert [error.line for error in batch.errors.data] == [2]
    assert batch.request_counts is not None
    assert batch.request_counts.total == 0


def test_batches_list_pages_through_every_batch(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    created = [create_batch(api, [chat_line(f"page-{n}")]).id for n in range(3)]
    first = api.batches.list(limit=2)
    assert len(first.data) == 2
    assert first.has_more
    every = [batch.id for batch in api.batches.list(limit=2)]  # follows the pages
    assert every == created[::-1]


def test_files_delete_removes_the_file_and_its_content(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    uploaded = api.files.create(
        file=("gone.jsonl", jsonl([chat_line("a")])), purpose="batch"
    )
    assert uploaded.filename == "gone.jsonl"
    assert [f.id for f in api.files.list()] == [uploaded.id]
    deleted = api.files.delete(uploaded.id)
    assert (deleted.id, deleted.deleted) == (uploaded.id, True)
    with pytest.raises(openai.NotFoundError):
        api.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        api.files.content(uploaded.id)
    assert list(api.files.list()) == []
