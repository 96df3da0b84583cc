"""OpenRouter's Batch API webhooks: a callback makes helixq poll the batch now.

Sent with each upstream batch as `callback_url` when HELIXQ_PUBLIC_URL is set.
OpenRouter does not document the body of its batch webhooks: both forms it may
take are read (an event `{"type", "data": {"id", ...}}`, or the batch object). The
callback changes nothing by itself: it moves the upstream batch's next poll to now
and asks a worker to poll, and the poll (OpenRouter's own answer) decides. Polling
on its backoff stays the path that always works.
"""

import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response, status

from broker_api.deps import EnqueuerDep, SessionDep, SettingsDep
from broker_api.discount import queries
from broker_api.discount.signature import check_signature
from shared.errors import InvalidRequest
from shared.lanes import CALLBACK_PATH

router = APIRouter(tags=["discount lane"])


def _batch_id(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    found = data.get("id") if isinstance(data, dict) else body.get("id")
    return found if isinstance(found, str) and found else None


@router.post(CALLBACK_PATH, status_code=status.HTTP_202_ACCEPTED)
async def batch_callback(
    request: Request,
    session: SessionDep,
    enqueuer: EnqueuerDep,
    settings: SettingsDep,
) -> Response:
    """A Batch API webhook: the named upstream batch is polled at once."""
    raw = await request.body()
    secret = settings.helixq_batch_callback_secret
    if secret is not None:
        check_signature(
            raw,
            request.headers.get("x-openrouter-signature"),
            secret.get_secret_value(),
            now=int(time.time()),
        )
    try:
        upstream_id = _batch_id(json.loads(raw))
    except ValueError:
        raise InvalidRequest("the callback body is not JSON") from None
    if upstream_id is None:
        raise InvalidRequest("the callback names no batch id")
    async with session.begin():
        known = await queries.poll_now(session, upstream_id)
    if known:
        await enqueuer.enqueue_upstream_poll()
    # The same answer for a batch helixq does not know: nothing to learn here.
    return Response(status_code=status.HTTP_202_ACCEPTED)
