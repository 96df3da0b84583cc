"""The broker's HTTP API as the console script uses it (httpx, synchronous)."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from helixq.errors import ApiError, ApiUnreachable

TIMEOUT_S = 30.0


class ApiClient:
    """Authenticated calls; every failure becomes ApiError or ApiUnreachable."""

    def __init__(
        self,
        base_url: str,
        key: str | None,
        *,
        timeout_s: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._json("GET", path, params=params)

    def post(
        self,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self._json("POST", path, content=content, params=params, headers=headers)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._explained():
            response = self._http.request(method, path, **kwargs)
        raise_for_error(response)
        return response.json()

    def lines(self, path: str) -> Iterator[str]:
        """A streamed answer, line by line, never held whole in memory."""
        with self._explained(), self._http.stream("GET", path) as response:
            if response.is_error:
                response.read()
                raise_for_error(response)
            yield from (line for line in response.iter_lines() if line)

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """httpx's transport errors as the CLI's own, naming the URL."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ApiUnreachable(
                f"cannot reach the API at {self.base_url} ({exc}); is it running? "
                "Set --api-url or HELIXQ_API_URL"
            ) from None
        except httpx.TimeoutException:
            raise ApiError(
                f"the API at {self.base_url} did not answer in time",
                status=0,
                error_code="timeout",
            ) from None
        except httpx.TransportError as exc:
            raise ApiUnreachable(
                f"lost the connection to the API at {self.base_url}: {exc}"
            ) from None


def raise_for_error(response: httpx.Response) -> None:
    """The API's error envelope as an ApiError; other bodies by their status."""
    if not response.is_error:
        return
    code, message = "http_error", f"HTTP {response.status_code}"
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass  # not our envelope (a proxy's page): the status says enough
    raise ApiError(message, status=response.status_code, error_code=code)
