"""OpenAI's batch flow with the official SDK and nothing else: upload a JSONL file,
create a batch from it, poll, read the output file; list and delete."""

import json
import time

import openai
import pytest
from openai.types import Batch

from tests.e2e.conftest import Client, Stack

pytestmark = pytest.mark.timeout(120)

CHAT = "/v1/chat/completions"
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


def jsonl(lines: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def create_batch(api: openai.OpenAI, lines: list[dict[str, object]]) -> Batch:
    uploaded = api.files.create(file=("input.jsonl", jsonl(lines)), purpose="batch")
    return api.batches.create(
        input_file_id=uploaded.id, endpoint=CHAT, completion_window="24h"
    )


def wait_ended(api: openai.OpenAI, batch_id: str, timeout_s: float = 90) -> Batch:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = api.batches.retrieve(batch_id)
        if batch.status in ENDED:
            return batch
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} still {batch.status} after {timeout_s}s")


def test_a_file_of_100_chat_lines_comes_back_as_an_output_file(
    stack: Stack, tenant_client: Client
) -> None:
    api = sdk(stack, tenant_client)
    custom_ids = [f"req-{n}" for n in range(100)]
    created = create_batch(api, [chat_line(custom_id) for custom_id in custom_ids])
    assert created.status == "in_progress"
    batch = wait_ended(api, created.id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (100, 100)
    assert batch.output_file_id is not None
    assert batch.error_file_id is None
    output = api.files.content(batch.output_file_id).text
    lines = [json.loads(text) for text in output.splitlines()]
    answers = {line["custom_id"]: line["response"] for line in lines}
    assert sorted(answers) == sorted(custom_ids)
    assert {response["status_code"] for response in answers.values()} == {200}
    assert all(r["body"]["choices"][0]["message"]["content"] for r in answers.values())


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
