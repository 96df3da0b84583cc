"""Turn a batch upload into job rows, line by line, without holding the whole upload.

Every line is validated; the first errors are reported with their line numbers and
nothing is written unless every line is valid.
"""

import json
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from broker_api.errors import VALIDATION_ERROR
from broker_api.json_guard import check_json
from shared.endpoints import Endpoint, endpoint_of_url
from shared.errors import (
    DiscountLaneRefused,
    InvalidJson,
    InvalidRequest,
    ModelNotAllowed,
)
from shared.lanes import Lane, LanePolicy
from shared.routing.validation import check_allowed_models, validate_route
from shared.schemas import (
    BATCH_MAX_REQUESTS,
    BatchItem,
    EmbeddingsBatchLine,
    batch_line_schema,
)

MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class LineError:
    line: int
    custom_id: str | None
    message: str
    code: str = InvalidRequest.code  # the code the same input gets on its own


@dataclass
class Ingest:
    """Rows accepted so far and the errors found; rows stop growing after an error."""

    catalog_ids: frozenset[str] = frozenset()  # empty: every model is accepted
    # What an embeddings line's model is checked against; empty: every model.
    embedding_ids: frozenset[str] = frozenset()
    # A file batch's `endpoint`: every line's url must name it. None: any endpoint.
    endpoint: Endpoint | None = None
    allowed_models: tuple[str, ...] | None = None  # the caller's; None: any
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    total: int = 0
    # Set once the batch's options are known, before the first row is read.
    lanes: LanePolicy | None = None

    def reject(
        self,
        line: int,
        custom_id: str | None,
        message: str,
        code: str = InvalidRequest.code,
    ) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, custom_id, message, code))

    def sorted_errors(self) -> list[LineError]:
        """The errors by line: a repeated custom_id is found a chunk later than
        the line's other errors (broker_api.batches.service)."""
        return sorted(self.errors, key=lambda error: error.line)

    def accept(
        self, line: int, item: BatchItem | EmbeddingsBatchLine
    ) -> dict[str, Any] | None:
        """The job row for a valid item (with its `line`, for the check of repeated
        custom_ids as the rows are written), or None (and an error)."""
        self.total += 1
        if self.total > BATCH_MAX_REQUESTS:
            self.reject(
                line, item.custom_id, f"more than {BATCH_MAX_REQUESTS} requests"
            )
            return None
        request = item.body.model_dump(exclude_none=True)
        lane = self._lane(line, item.custom_id, request)
        if lane is None:
            return None
        return {
            "id": uuid.uuid4(),
            "line": line,
            "custom_id": item.custom_id,
            "request": request,
            "lane": lane.value,
        }

    def _lane(self, line: int, custom_id: str, request: dict[str, Any]) -> Lane | None:
        if self.lanes is None:
            return Lane.REALTIME
        lane, obstacles = self.lanes.lane_of(request)
        if obstacles:
            reasons = "; ".join(obstacles)
            message = f"cannot run on the discount lane: {reasons}"
            self.reject(line, custom_id, message, DiscountLaneRefused.code)
            return None
        return lane


def _explain(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def parse_item(
    ingest: Ingest, number: int, raw: Any, *, jsonl: bool
) -> dict[str, Any] | None:
    """Validate one request (a JSONL line or an inline item) into a job row."""
    custom_id = raw.get("custom_id") if isinstance(raw, dict) else None
    try:
        if jsonl:
            _check_endpoint(ingest, raw)
        item = (batch_line_schema(raw) if jsonl else BatchItem).model_validate(raw)
        if item.body.model_extra and item.body.model_extra.get("stream"):
            raise ValueError("stream is not supported in batches")
        _validate_models(ingest, item)
    except ValidationError as exc:
        ingest.reject(number, custom_id, _explain(exc), VALIDATION_ERROR)
        return None
    except (InvalidRequest, ModelNotAllowed) as exc:
        ingest.reject(number, custom_id, exc.message, exc.code)
        return None
    except ValueError as exc:
        ingest.reject(number, custom_id, str(exc))
        return None
    return ingest.accept(number, item)


def _check_endpoint(ingest: Ingest, raw: Any) -> None:
    """A file batch's line must be for the batch's endpoint, as OpenAI requires."""
    url = raw.get("url") if isinstance(raw, dict) else None
    if ingest.endpoint is None or not isinstance(url, str):
        return  # no endpoint to match, or no url: the schema says what is wrong
    if endpoint_of_url(url) is not ingest.endpoint:
        raise ValueError(
            f"url {url[:100]!r} is not the batch's endpoint {ingest.endpoint.value!r}"
        )


def _validate_models(ingest: Ingest, item: BatchItem | EmbeddingsBatchLine) -> None:
    body = item.body.model_dump(exclude_none=True)
    if isinstance(item, EmbeddingsBatchLine):
        validate_route(body, ingest.embedding_ids, kind="embedding model")
    else:
        validate_route(body, ingest.catalog_ids)
    check_allowed_models(body, ingest.allowed_models)


def parse_inline(ingest: Ingest, items: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for number, raw in enumerate(items, start=1):
        row = parse_item(ingest, number, raw, jsonl=False)
        if row is not None:
            yield row


async def parse_jsonl(
    ingest: Ingest, chunks: AsyncIterator[bytes]
) -> AsyncIterator[dict[str, Any]]:
    """Rows from a streamed JSONL body; blank lines are skipped."""
    number = 0
    async for line in _lines(chunks):
        number += 1
        if not line.strip():
            continue
        try:
            check_json(line)
            raw = json.loads(line)
        except InvalidJson as exc:
            ingest.reject(number, None, exc.message, exc.code)
            continue
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            ingest.reject(number, None, f"not valid JSON: {exc}", InvalidJson.code)
            continue
        row = parse_item(ingest, number, raw, jsonl=True)
        if row is not None:
            yield row


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line
    if pending:
        yield pending
