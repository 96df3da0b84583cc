"""OpenRouter's Batch API, for the discount lane: create, list, get, results,
cancel, delete.

A blocking httpx client: the submission and polling sweeps run on Celery's task
threads (workers.maintenance), not on the job path's event loop. OpenRouter has
published two base paths (`/api/v1/batches` and `/api/beta/batches`), so the base
URL is a setting (HELIXQ_BATCH_API_URL). The create body is written with every
scalar field first and `requests` last: OpenRouter reads it as a stream and refuses
`endpoint` or `model` (or `callback_url`) placed after `requests`.
"""

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from workers.openrouter.errors import (
    UpstreamBadRequest,
    UpstreamError,
    UpstreamPaymentRequired,
    UpstreamUnavailable,
)

JsonObject = dict[str, Any]
CHAT_ENDPOINT = "/v1/chat/completions"
RESULTS_PAGE = 1000
LIST_PAGE = 100


class BatchAnswerLost(UpstreamUnavailable):
    """The create POST went out and its answer never came: the batch may exist."""

    code = "upstream_batch_answer_lost"


def create_body(
    model: str, lines: Sequence[tuple[str, JsonObject]], *, callback_url: str | None
) -> bytes:
    """The create body, `requests` last; `lines` are (custom_id, chat body)."""
    head: JsonObject = {
        "endpoint": CHAT_ENDPOINT,
        "model": model,
        "completion_window": "24h",
    }
    if callback_url:
        head["callback_url"] = callback_url
    requests = [{"custom_id": cid, "body": body} for cid, body in lines]
    return json.dumps({**head, "requests": requests}, separators=(",", ":")).encode()


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    text = response.text[:500]
    if response.status_code == 402:
        raise UpstreamPaymentRequired(text, http_status=402)
    if response.status_code == 429 or response.status_code >= 500:
        raise UpstreamUnavailable(text, http_status=response.status_code)
    if response.status_code in (400, 413, 422):
        raise UpstreamBadRequest(text, http_status=response.status_code)
    raise UpstreamError(text, http_status=response.status_code)


def _object(response: httpx.Response) -> JsonObject:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UpstreamUnavailable("the Batch API answered no JSON object")
    return body


class BatchApi:
    """Calls OpenRouter's Batch API at `base_url` (…/batches is appended)."""

    def __init__(
        self, client: httpx.Client, base_url: str, *, key: SecretStr | None = None
    ) -> None:
        self._client = client
        self._base_url = base_url
        self._url = base_url.rstrip("/") + "/batches"
        # Sent with each request, over the client's own (the global key's).
        self._headers = (
            {} if key is None else {"Authorization": f"Bearer {key.get_secret_value()}"}
        )

    def on_key(self, key: SecretStr | None) -> "BatchApi":
        """The same API called with `key` (a tenant's own; None: the client's)."""
        return BatchApi(self._client, self._base_url, key=key)

    def create(self, body: bytes) -> JsonObject:
        """POST a batch; raises BatchAnswerLost when the answer is lost in transit."""
        try:
            response = self._client.post(
                self._url,
                content=body,
                headers={**self._headers, "Content-Type": "application/json"},
            )
        except httpx.TransportError as error:
            raise BatchAnswerLost(f"no answer to the batch POST: {error!r}") from None
        _raise_for(response)
        return _object(response)

    def get(self, upstream_id: str) -> JsonObject:
        """The batch; 402 (credits) raises UpstreamPaymentRequired."""
        response = self._get(f"{self._url}/{upstream_id}")
        _raise_for(response)
        return _object(response)

    def cancel(self, upstream_id: str) -> int:
        """Ask OpenRouter to stop a batch; the answer's status. 403 (cancel not
        enabled for the organisation), 404 (no cancel route, or an unknown batch)
        and 409 (already final) are answers, not errors: polling follows it."""
        response = self._send("POST", f"{self._url}/{upstream_id}/cancel")
        if response.status_code not in (403, 404, 409):
            _raise_for(response)
        return response.status_code

    def delete(self, upstream_id: str) -> int:
        """Purge an ended batch's stored requests and results upstream; the
        answer's status (404: already gone; 409: not ended yet)."""
        response = self._send("DELETE", f"{self._url}/{upstream_id}")
        if response.status_code not in (404, 409):
            _raise_for(response)
        return response.status_code

    def recent(self, *, created_after: int) -> Iterator[JsonObject]:
        """Batches created after `created_after` (Unix seconds), newest first."""
        params: dict[str, str | int] = {
            "limit": LIST_PAGE,
            "created_after": created_after,
        }
        while True:
            response = self._get(self._url, params=params)
            _raise_for(response)
            page = _object(response)
            data = page.get("data") or []
            yield from (item for item in data if isinstance(item, dict))
            last_id = page.get("last_id")
            if not page.get("has_more") or not data or not last_id:
                return
            params["after"] = str(last_id)

    def results(self, batch: JsonObject) -> list[JsonObject]:
        """Every result line of a completed batch: the paged route when it answers
        200, else the `results` the batch carries inline."""
        paged = self._paged_results(str(batch["id"]))
        if paged is not None:
            return paged
        inline = batch.get("results")
        return [r for r in inline if isinstance(r, dict)] if inline else []

    def _paged_results(self, upstream_id: str) -> list[JsonObject] | None:
        lines: list[JsonObject] = []
        params: dict[str, str | int] = {"limit": RESULTS_PAGE}
        while True:
            response = self._get(f"{self._url}/{upstream_id}/results", params=params)
            if response.status_code in (404, 405, 409):
                return None  # no paged route here (older API), or not ready
            _raise_for(response)
            page = _object(response)
            lines.extend(r for r in page.get("data") or [] if isinstance(r, dict))
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return lines
            params["cursor"] = str(cursor)

    def _get(
        self, url: str, params: dict[str, str | int] | None = None
    ) -> httpx.Response:
        return self._send("GET", url, params=params)

    def _send(
        self, method: str, url: str, params: dict[str, str | int] | None = None
    ) -> httpx.Response:
        try:
            return self._client.request(
                method, url, params=params, headers=self._headers
            )
        except httpx.TransportError as error:
            raise UpstreamUnavailable(f"Batch API unreachable: {error!r}") from None
