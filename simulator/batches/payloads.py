"""The Batch API's JSON: batch objects, lists, deletions, the 402 body."""

from collections.abc import Sequence
from typing import Any

from simulator.batches.batch import COMPLETION_WINDOW, Batch, Usage
from simulator.billing import json_number

UNPAID_MESSAGE = (
    "Insufficient credits to pay for this batch's results. Add more using "
    "https://openrouter.ai/credits; the results are kept and will not be re-run."
)


def _unix(at: float | None) -> int | None:
    return None if at is None else int(at)


def usage_json(usage: Usage | None) -> dict[str, Any] | None:
    """Batch-level usage: tokens and the USD charged."""
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost": json_number(usage.cost),
        "is_byok": False,
    }


def counts_json(batch: Batch) -> dict[str, int]:
    """`request_counts`: total fixed at submit, completed and failed so far."""
    return {"total": batch.total, "completed": batch.completed, "failed": batch.failed}


def batch_json(batch: Batch, *, with_results: bool) -> dict[str, Any]:
    """The batch object; `results` only where the caller may see them inline."""
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "model": batch.model,
        "completion_window": COMPLETION_WINDOW,
        "status": batch.status.value,
        "created_at": int(batch.created_at),
        "finalized_at": _unix(batch.finalized_at),
        "expires_at": _unix(batch.timeline.expires_at),
        "provider": batch.variant.provider.name,
        "request_counts": counts_json(batch),
        "usage": usage_json(batch.usage),
        "results": batch.results if with_results else None,
        "error": None if batch.error is None else {"message": batch.error},
    }


def unpaid_json(batch: Batch) -> dict[str, Any]:
    """The 402 answer: the batch's metadata, no results, and the credits error."""
    body = batch_json(batch, with_results=False)
    body["error"] = {"code": 402, "message": UNPAID_MESSAGE}
    return body


def list_json(batches: Sequence[Batch], *, has_more: bool) -> dict[str, Any]:
    """A page of the listing; items never carry results."""
    return {
        "object": "list",
        "data": [batch_json(batch, with_results=False) for batch in batches],
        "first_id": batches[0].id if batches else None,
        "last_id": batches[-1].id if batches else None,
        "has_more": has_more,
    }


def deletion_json(batch: Batch) -> dict[str, Any]:
    """What DELETE answers; `upstream` only when a provider took the batch."""
    deletion: dict[str, Any] = {"openrouter": "deleted"}
    if batch.was_started:
        deletion["upstream"] = {
            "provider": batch.variant.provider.name,
            "status": "deleted",
        }
    return {"id": batch.id, "object": "batch", "deletion": deletion}
