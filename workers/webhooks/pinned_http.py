"""One HTTP try of a webhook, to an address checked against the SSRF policy.

The host is resolved here and every address checked; the request then goes to the
checked address, with the URL's host kept in the Host header and TLS SNI (and
certificate check), so a DNS answer that changes between check and connect
(rebinding) cannot lead anywhere else.
"""

import time
from dataclasses import dataclass

import httpx

from shared.webhooks.addresses import IPAddress, Resolver, resolve_target

# Keep attempt logs small: an error is a hint, not a transcript.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class HttpTry:
    """What the receiver answered, or why there was no answer."""

    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: str | None = None


def pinned_request(url: str, address: IPAddress) -> tuple[httpx.URL, dict[str, str]]:
    """The URL rewritten to `address`, and the Host and SNI that keep its name."""
    original = httpx.URL(url)
    pinned = original.copy_with(host=str(address))
    return pinned, {"Host": original.netloc.decode("ascii")}


def post_pinned(
    url: str,
    address: IPAddress,
    *,
    headers: dict[str, str],
    body: bytes,
    timeout_s: float,
) -> HttpTry:
    """POST `body` to `address` as if to `url`; redirects are answers, not followed."""
    pinned, host_header = pinned_request(url, address)
    started = time.monotonic()
    # trust_env=False: a proxy from the environment would bypass the pinned address.
    with httpx.Client(
        timeout=timeout_s, follow_redirects=False, trust_env=False
    ) as client:
        try:
            with client.stream(
                "POST",
                pinned,
                content=body,
                headers={**headers, **host_header, "content-type": "application/json"},
                extensions={"sni_hostname": httpx.URL(url).host},
            ) as response:
                return HttpTry(
                    status_code=response.status_code,
                    error=None,
                    duration_ms=_elapsed_ms(started),
                    retry_after=response.headers.get("retry-after"),
                )
        except httpx.HTTPError as exc:
            return HttpTry(None, _describe(exc), _elapsed_ms(started))


def resolve_checked(url: str, *, allow_private: bool, resolve: Resolver) -> IPAddress:
    """The address to connect to; raises DestinationRefused if any is refused."""
    _, addresses = resolve_target(url, allow_private=allow_private, resolve=resolve)
    return addresses[0]


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {detail}"[:MAX_ERROR_CHARS]
