"""`GET /v1/jobs/{id}/stream`: a job followed live as server-sent events.

First the job's status (`event: status`), then each status change and each chunk
as the worker relays it (`data:` in OpenAI/OpenRouter's chunk format), keep-alive
comments while it waits, and at the end its final status and `data: [DONE]` for
an answer. A job already finished replays at once from its row. Leaving does not
cancel the job: it was submitted to run whether or not anyone watches.
"""

import json
from collections.abc import AsyncIterator

from broker_api.jobs.live import JobFollower
from broker_api.jobs.views import JobView
from broker_api.sse import DONE, KEEPALIVE, data_event, ended_without_chunks
from shared.job_streams import EntryKind, JobEnd
from shared.jobs import JobStatus


def status_event(status: str) -> bytes:
    return b"event: status\ndata: " + json.dumps({"status": status}).encode() + b"\n\n"


async def job_events(follower: JobFollower, view: JobView) -> AsyncIterator[bytes]:
    """The SSE body of a followed job, from its state in `view`."""
    yield status_event(view.status)
    if JobStatus(view.status).is_terminal:
        for part in ended_without_chunks(view):
            yield part
        return
    status, has_sent_chunk = view.status, False
    async for event in follower.events():
        if event.kind is None:
            yield KEEPALIVE
        elif event.kind is EntryKind.STATUS and event.data.decode() != status:
            status = event.data.decode()
            yield status_event(status)
        elif event.kind is EntryKind.CHUNK:
            has_sent_chunk = True
            yield data_event(event.data)
        elif event.kind is EntryKind.END:
            final = event.view or await follower.terminal_view()
            for part in _ending(final, event.data, has_sent_chunk=has_sent_chunk):
                yield part


def _ending(final: JobView | None, end: bytes, *, has_sent_chunk: bool) -> list[bytes]:
    """The final status, then the answer or error a client has not seen yet."""
    ended = final.status if final else JobEnd.decode(end).status
    if final is not None and not has_sent_chunk:
        return [status_event(ended), *ended_without_chunks(final)]
    return [status_event(ended), *([DONE] if ended == JobStatus.SUCCEEDED else [])]
