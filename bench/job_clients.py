"""Tenants and their jobs through the API, as clients do, for the benchmarks that
run whole stacks (bench.multinode, bench.component_costs)."""

import asyncio
import uuid
from collections.abc import Mapping, Sequence

import aiohttp
import httpx

from bench.limits_harness import BODY

SUBMIT_TRIES = 20


def create_tenant(
    api_url: str, admin_token: str, name: str, *, weight: int | None = None
) -> tuple[str, str]:
    """A tenant made through the admin API, with its weight when given: (slug, key)."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    created = httpx.post(f"{api_url}/admin/tenants", json={"name": name}, headers=admin)
    created.raise_for_status()
    issued = created.json()
    slug = str(issued["tenant"]["slug"])
    if weight is not None:
        httpx.put(
            f"{api_url}/admin/tenants/{slug}/limits",
            json={"weight": weight},
            headers=admin,
        ).raise_for_status()
    return slug, str(issued["key"])


async def submit_job(session: aiohttp.ClientSession, api_url: str, key: str) -> str:
    """POST one job, without an Idempotency-Key (the common path); its id."""
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(f"{api_url}/v1/jobs", json=BODY, headers=headers) as reply:
        reply.raise_for_status()
        return str((await reply.json())["id"])


async def submit_batch(
    session: aiohttp.ClientSession,
    api_urls: Sequence[str],
    key: str,
    first: int,
    lines: int,
) -> str:
    """POST one batch of `lines` jobs until an API node takes it; its id."""
    requests = [{"custom_id": f"line-{n}", "body": BODY} for n in range(lines)]
    body = {"requests": requests}
    return await _accepted(session, api_urls, key, first, "/v1/batches", body)


async def _accepted(
    session: aiohttp.ClientSession,
    api_urls: Sequence[str],
    key: str,
    first: int,
    path: str,
    body: Mapping[str, object],
) -> str:
    """POST `body` until an API node takes it (2xx), starting with `api_urls[first]`
    and moving to the next after each failure, with the same Idempotency-Key (as a
    load balancer in front of the nodes would): what it made is taken once."""
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
    last = ""
    for attempt in range(SUBMIT_TRIES):
        url = api_urls[(first + attempt) % len(api_urls)]
        try:
            async with session.post(
                f"{url}{path}", json=body, headers=headers
            ) as reply:
                if reply.ok:
                    return str((await reply.json())["id"])
                last = f"{reply.status} {(await reply.text())[:300]}"
        except (aiohttp.ClientError, TimeoutError) as error:
            last = repr(error)
        await asyncio.sleep(0.1 * attempt)
    raise RuntimeError(f"POST {path} was refused {SUBMIT_TRIES} times, last: {last}")
