"""Tenants on their own OpenRouter keys, configured as the README shows: two tenants
on different keys and a third on the global one. Each tenant's calls reach the
simulator on its own key (the simulator counts calls by key label), a 429 storm on
one key slows no tenant on another, and a tenant's key (a canary) is nowhere in
plain text: not in logs, API answers, webhooks, Redis or Postgres."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from shared.db.session import psycopg_url
from simulator.auth import key_label
from tests.e2e.conftest import LOG_DIR, SIMULATOR_KEY, Client, Stack, own_stack
from tests.e2e.test_batches_webhooks import event_of, eventually
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.services import Services, separate_services
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(150)

ADMIN_TOKEN = "admin-token-of-the-tenant-key-tests"
# Unique per run: a canary found anywhere came from this run.
KEY_A = f"sk-or-v1-{uuid4().hex}{uuid4().hex}"
KEY_A_ROTATED = f"sk-or-v1-{uuid4().hex}{uuid4().hex}"
KEY_B = f"sk-or-v1-{uuid4().hex}{uuid4().hex}"
CANARIES = (KEY_A, KEY_A_ROTATED, KEY_B)
CLIENT_KEYS = {n: f"hqk_tenant{n}_{uuid4().hex}" for n in (1, 2, 3)}
NAMES = {1: f"alpha-{uuid4().hex[:6]}", 2: f"beta-{uuid4().hex[:6]}", 3: "gamma"}
LOG_NAMES = ("keys-simulator", "keys-api", "keys-worker")


def _tenant_variables() -> dict[str, str]:
    """The README's block: tenants 1 and 2 on keys of their own, 3 on the global."""
    return {
        "OPENROUTER_TENANT_1_NAME": NAMES[1],
        "OPENROUTER_TENANT_1_API_KEY": KEY_A,
        "OPENROUTER_TENANT_1_DEFAULT_MODEL": "openrouter/openai/gpt-4o-mini",
        "HELIXQ_TENANT_1_CLIENT_KEY": CLIENT_KEYS[1],
        "OPENROUTER_TENANT_2_NAME": NAMES[2],
        "OPENROUTER_TENANT_2_API_KEY": KEY_B,
        "HELIXQ_TENANT_2_CLIENT_KEY": CLIENT_KEYS[2],
        "OPENROUTER_TENANT_3_NAME": NAMES[3],
        "HELIXQ_TENANT_3_CLIENT_KEY": CLIENT_KEYS[3],
        "HELIXQ_SECRET_KEY": f"{uuid4().hex}{uuid4().hex}",
        "HELIXQ_ADMIN_TOKEN": ADMIN_TOKEN,
        "OPENROUTER_MAX_RETRIES": "8",
    }


@pytest.fixture(scope="module")
def keyed_services(services: Services) -> Services:
    """A database and Redis index of their own: no other stack's worker may take
    these tenants' jobs, and the canary scans see only this stack's data."""
    keyed = separate_services(services, "keys")
    redis.Redis.from_url(keyed.redis_url).flushdb()
    return keyed


@pytest.fixture(scope="module")
def keyed_stack(keyed_services: Services) -> Iterator[Stack]:
    with own_stack(keyed_services, "keys", _tenant_variables()) as stack:
        yield stack


@pytest.fixture(scope="module")
def clients(keyed_stack: Stack) -> Iterator[dict[int, Client]]:
    made = {
        n: Client(
            slug=NAMES[n],
            key=key,
            http=httpx.Client(
                base_url=keyed_stack.api_url,
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ),
        )
        for n, key in CLIENT_KEYS.items()
    }
    yield made
    for client in made.values():
        client.http.close()


def _sim(stack: Stack, path: str, **kwargs: Any) -> dict[str, Any]:
    response = httpx.request(
        kwargs.pop("method", "GET"), f"{stack.simulator_url}{path}", timeout=5, **kwargs
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _calls_by_label(stack: Stack) -> dict[str, dict[str, int]]:
    calls = _sim(stack, "/_sim/keys")["calls"]
    return {label: counts["by_status"] for label, counts in calls.items()}


def test_each_tenant_calls_on_its_own_key_and_the_third_on_the_global_one(
    keyed_stack: Stack, clients: dict[int, Client]
) -> None:
    before = _calls_by_label(keyed_stack)
    for n in (1, 2, 3):
        view = wait_terminal(clients[n], submit(clients[n]), timeout_s=30)
        assert view["status"] == "succeeded", view
    after = _calls_by_label(keyed_stack)

    def served(key: str) -> int:
        return after.get(key_label(key), {}).get("200", 0) - before.get(
            key_label(key), {}
        ).get("200", 0)

    assert (served(KEY_A), served(KEY_B), served(SIMULATOR_KEY)) == (1, 1, 1)


def test_a_429_storm_on_one_key_does_not_slow_the_tenants_on_others(
    keyed_stack: Stack, clients: dict[int, Client]
) -> None:
    storm_s = 4.0
    _sim(
        keyed_stack,
        "/_sim/keys/storm",
        method="POST",
        json={"label": key_label(KEY_A), "for_s": storm_s},
    )
    started = time.monotonic()
    stormed = [submit(clients[1]) for _ in range(5)]
    others = [(clients[n], submit(clients[n])) for _ in range(5) for n in (2, 3)]
    views = [wait_terminal(client, job_id, timeout_s=30) for client, job_id in others]
    others_done_s = time.monotonic() - started

    assert {view["status"] for view in views} == {"succeeded"}
    assert others_done_s < storm_s / 2, others_done_s
    assert all(view["retries"] == 0 for view in views)
    calls = _calls_by_label(keyed_stack)
    assert "429" not in calls[key_label(KEY_B)]
    assert "429" not in calls[key_label(SIMULATOR_KEY)]
    assert calls[key_label(KEY_A)].get("429", 0) >= 1
    # The stormed tenant's jobs wait the storm out, then succeed.
    stormed_views = [wait_terminal(clients[1], j, timeout_s=60) for j in stormed]
    assert {view["status"] for view in stormed_views} == {"succeeded"}
    assert time.monotonic() - started >= storm_s


def _redis_value(client: redis.Redis, key: bytes) -> object:
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return client.get(key)
    if kind == "hash":
        return client.hgetall(key)
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return client.smembers(key)
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == "stream":
        return client.xrange(key)
    return None


def _redis_dump(url: str) -> str:
    """Every key and value of the stack's Redis database, as text."""
    client = redis.Redis.from_url(url)
    try:
        return "\n".join(
            f"{key!r} {_redis_value(client, key)!r}"
            for key in client.scan_iter(count=1000)
        )
    finally:
        client.close()


def _postgres_dump(engine: Engine) -> str:
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "ORDER BY tablename"
            )
        ).scalars()
        return "\n".join(
            str(
                connection.execute(
                    text(f"SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t")
                ).scalar()
            )
            for table in list(tables)
        )


def _assert_no_canary(where: str, content: str) -> None:
    for canary in CANARIES:
        # What follows the public `sk-or-v1-` prefix is the secret.
        assert canary[9:] not in content, f"a tenant OpenRouter key is in {where}"
        assert canary[9:25] not in content, f"part of a tenant key is in {where}"


def test_a_tenant_key_is_nowhere_in_plain_text(
    keyed_stack: Stack,
    keyed_services: Services,
    clients: dict[int, Client],
    receiver: Receiver,
) -> None:
    admin = httpx.Client(
        base_url=keyed_stack.api_url,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    slug = NAMES[1]
    answers_seen = [
        admin.get("/admin/tenants").text,
        admin.get(f"/admin/tenants/{slug}/openrouter-key").text,
    ]
    rotated = admin.put(
        f"/admin/tenants/{slug}/openrouter-key", json={"key": KEY_A_ROTATED}
    )
    assert rotated.status_code == 200, rotated.text
    assert (
        rotated.json()["openrouter_key"]["hint"] == f"sk-or-v1-...{KEY_A_ROTATED[-4:]}"
    )
    answers_seen.append(rotated.text)
    time.sleep(2.5)  # HELIXQ_TENANT_REFRESH_S: the workers read the new key
    job_id = submit(clients[1], webhook_url=receiver.url)
    view = wait_terminal(clients[1], job_id, timeout_s=30)
    assert view["status"] == "succeeded", view
    event = eventually(
        lambda: event_of(receiver, "job.succeeded", job_id),
        timeout_s=30,
        what="job.succeeded webhook",
    )
    assert _calls_by_label(keyed_stack)[key_label(KEY_A_ROTATED)]["200"] >= 1
    answers_seen += [
        json.dumps(view),
        clients[1].http.get(f"/v1/jobs/{job_id}").text,
        clients[1].http.get("/v1/usage").text,
        clients[1].http.get("/dashboard/data").text,
        admin.get("/dashboard/data").text,
        admin.get(f"/admin/tenants/{slug}/openrouter-key").text,
        _sim(keyed_stack, "/_sim/calls?detail=1").__repr__(),
        json.dumps(_sim(keyed_stack, "/_sim/keys")),
    ]
    admin.close()

    _assert_no_canary("the API's answers", "\n".join(answers_seen))
    _assert_no_canary("the webhook", event.body.decode())
    redis_dump = _redis_dump(keyed_services.redis_url)
    assert "tenant." in redis_dump  # the scan saw the stack's queues
    _assert_no_canary("Redis", redis_dump)
    engine = create_engine(psycopg_url(keyed_services.database_url))
    try:
        postgres_dump = _postgres_dump(engine)
    finally:
        engine.dispose()
    assert f"sk-or-v1-...{KEY_A_ROTATED[-4:]}" in postgres_dump  # the tenants row
    _assert_no_canary("Postgres", postgres_dump)
    for name in LOG_NAMES:
        log = Path(LOG_DIR) / f"{name}.log"
        _assert_no_canary(f"{log.name}", log.read_text(errors="replace"))
