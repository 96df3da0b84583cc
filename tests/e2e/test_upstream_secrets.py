"""The OpenRouter key never reaches a tenant through an upstream's error text: the
simulator answers a 401 quoting the Authorization header and a 502 whose plain text
quotes every request header, and the key is in no view, result or webhook."""

import json
from typing import Any

import pytest

from tests.e2e.conftest import SIMULATOR_KEY, Client, Stack
from tests.e2e.test_batches_webhooks import batch_when_ended, event_of, eventually
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.factories import make_job_body
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(150)

ECHOES = ("sim/echo-401", "sim/echo-502")
# What follows the public `sk-or-` prefix is the secret.
SECRET = SIMULATOR_KEY.removeprefix("sk-or-")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _assert_no_key(where: str, value: Any) -> None:
    text = _text(value)
    assert SECRET not in text, f"the OpenRouter key leaks through {where}: {text}"


def _submit_batch(client: Client) -> str:
    requests = [
        {"custom_id": model, "body": make_job_body(model=model)} for model in ECHOES
    ]
    response = client.http.post("/v1/batches", json={"requests": requests})
    assert response.status_code == 201, response.text
    batch_id: str = response.json()["id"]
    return batch_id


def _deliveries(client: Client) -> list[dict[str, Any]]:
    listing = client.http.get("/v1/webhooks/deliveries").json()["data"]
    return [
        client.http.get(f"/v1/webhooks/deliveries/{row['id']}").json()
        for row in listing
    ]


def test_upstream_text_quoting_the_key_reaches_no_tenant(
    stack: Stack, tenant_client: Client, receiver: Receiver
) -> None:
    job_ids = [
        submit(tenant_client, model=model, webhook_url=receiver.url) for model in ECHOES
    ]
    batch_id = _submit_batch(tenant_client)

    unauthorized, bad_gateway = (
        wait_terminal(tenant_client, job_id, timeout_s=90) for job_id in job_ids
    )
    eventually(
        lambda: batch_when_ended(tenant_client, batch_id), timeout_s=90, what="end"
    )
    events = [
        eventually(
            lambda job_id=job_id: event_of(receiver, "job.failed", job_id),
            timeout_s=30,
            what="job.failed webhook",
        )
        for job_id in job_ids
    ]

    # Still a useful error: what happened, in the upstream's words where safe.
    assert unauthorized["error"]["code"] == "upstream_unauthorized"
    assert "Invalid credentials: Bearer ***" in unauthorized["error"]["message"]
    assert bad_gateway["error"]["code"] == "upstream_unavailable"
    assert bad_gateway["error"]["message"].startswith("OpenRouter answered 502")
    _assert_no_key("the job views and their attempts", [unauthorized, bad_gateway])
    results = tenant_client.http.get(f"/v1/batches/{batch_id}/results")
    assert results.status_code == 200
    assert "upstream_unauthorized" in results.text
    _assert_no_key("the batch results", results.text)
    _assert_no_key("the dashboard", tenant_client.http.get("/dashboard/data").text)
    _assert_no_key("the webhook delivery views", _deliveries(tenant_client))
    _assert_no_key("the webhooks received", [event.body.decode() for event in events])
