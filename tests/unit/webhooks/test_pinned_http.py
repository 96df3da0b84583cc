import ipaddress

import httpx
import pytest
import respx

from shared.webhooks.errors import DestinationRefused
from workers.webhooks.pinned_http import pinned_request, post_pinned, resolve_checked

PUBLIC = ipaddress.ip_address("93.184.216.34")


def test_pinned_url_goes_to_the_address_and_keeps_the_host_header() -> None:
    url, headers = pinned_request("https://hooks.example.com:8443/a?b=1", PUBLIC)
    assert str(url) == "https://93.184.216.34:8443/a?b=1"
    assert headers == {"Host": "hooks.example.com:8443"}


def test_pinned_ipv6_address_is_bracketed() -> None:
    url, headers = pinned_request(
        "https://hooks.example.com/a", ipaddress.ip_address("2606:2800:220:1::1")
    )
    assert str(url) == "https://[2606:2800:220:1::1]/a"
    assert headers == {"Host": "hooks.example.com"}


@respx.mock
def test_post_goes_to_the_checked_address_with_host_and_sni() -> None:
    route = respx.post("https://93.184.216.34/hook").mock(
        return_value=httpx.Response(204)
    )
    result = post_pinned(
        "https://hooks.example.com/hook",
        PUBLIC,
        headers={"webhook-id": "msg_1"},
        body=b"{}",
        timeout_s=1,
    )
    assert result.status_code == 204
    sent = route.calls.last.request
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.headers["webhook-id"] == "msg_1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


@respx.mock
def test_redirect_is_returned_not_followed() -> None:
    respx.post("https://93.184.216.34/hook").mock(
        return_value=httpx.Response(302, headers={"location": "http://127.0.0.1/"})
    )
    followed = respx.post("http://127.0.0.1/").mock(return_value=httpx.Response(200))
    result = post_pinned(
        "https://hooks.example.com/hook", PUBLIC, headers={}, body=b"{}", timeout_s=1
    )
    assert result.status_code == 302
    assert not followed.called


@respx.mock
@pytest.mark.parametrize(
    "error", [httpx.ConnectTimeout("timed out"), httpx.ConnectError("refused")]
)
def test_network_errors_are_described(error: Exception) -> None:
    respx.post("https://93.184.216.34/hook").mock(side_effect=error)
    result = post_pinned(
        "https://hooks.example.com/hook", PUBLIC, headers={}, body=b"{}", timeout_s=1
    )
    assert result.status_code is None
    assert result.error is not None
    assert type(error).__name__ in result.error


@pytest.mark.parametrize(
    "answer",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:9c40:80ff:fffe",  # Teredo, client 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64
    ],
)
def test_connect_refuses_a_name_now_resolving_to_an_ipv6_carried_private_ipv4(
    answer: str,
) -> None:
    """Checked again at connect time: the DNS answer may have changed since."""
    with pytest.raises(DestinationRefused, match="resolves to"):
        resolve_checked(
            "https://hooks.example.com/hook",
            allow_private=False,
            resolve=lambda host, port: ["93.184.216.34", answer],
        )
