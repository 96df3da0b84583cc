import pytest

from shared.webhooks.addresses import check_addresses, parse_target, resolve_target
from shared.webhooks.errors import DestinationRefused, HostUnresolved


def resolver(answers: dict[str, list[str]]):
    """A fake DNS: `answers` by host name; unknown names do not resolve."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"cannot resolve {host}")
        return answers[host]

    return resolve


PUBLIC = resolver({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})

REFUSED_URLS = [
    "http://127.0.0.1/hook",  # loopback
    "http://127.9.9.9/",
    "http://[::1]/",
    "http://10.0.0.5/",  # private
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.10.10/",  # link-local
    "http://169.254.169.254/latest/meta-data/",  # metadata
    "http://[fd00:ec2::254]/",  # metadata, IPv6
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://100.127.255.254/",
    "http://[fe80::1]/",  # link-local IPv6
    "http://[fc00::1]/",  # unique-local IPv6
    "http://[fd12:3456::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://0.0.0.0/",  # unspecified
    "http://[::]/",
    "http://224.0.0.1/",  # multicast
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/",  # hex
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",  # octal
    "http://017700000001/",
    "http://127.1/",  # short form
    "http://0/",
    "ftp://hooks.example.com/",  # schemes
    "file:///etc/passwd",
    "gopher://hooks.example.com/",
    "javascript:alert(1)",
    "hooks.example.com/path",
    "http://user:pass@hooks.example.com/",  # credentials
    "http://user@hooks.example.com/",
    "https://:pw@hooks.example.com/",
    "http:///no-host",
    "http://hooks.example.com:99999/",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_refused_urls(url: str) -> None:
    with pytest.raises(DestinationRefused):
        resolve_target(url, allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/webhooks",
        "http://hooks.example.com:8080/x?y=1",
        "https://HOOKS.example.com./",
        "https://93.184.216.34/hook",
        "https://[2606:2800:220:1::1]/hook",
        "https://8.8.8.8/",
    ],
)
def test_public_urls_pass(url: str) -> None:
    target, addresses = resolve_target(url, allow_private=False, resolve=PUBLIC)
    assert target.scheme in {"http", "https"}
    assert addresses


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["::ffff:127.0.0.1"],
        ["fd00:ec2::254"],
        # One bad address among good ones is enough to refuse (DNS rebinding).
        ["93.184.216.34", "127.0.0.1"],
        ["2606:2800:220:1::1", "fe80::1%eth0"],
    ],
)
def test_names_resolving_to_refused_addresses_are_refused(answers: list[str]) -> None:
    resolve = resolver({"evil.example.com": answers})
    with pytest.raises(DestinationRefused, match="resolves to"):
        resolve_target(
            "https://evil.example.com/", allow_private=False, resolve=resolve
        )


def test_localhost_is_refused_by_its_address() -> None:
    resolve = resolver({"localhost": ["127.0.0.1", "::1"]})
    with pytest.raises(DestinationRefused, match="loopback"):
        resolve_target("http://localhost:8000/", allow_private=False, resolve=resolve)


def test_unresolvable_host_is_its_own_error() -> None:
    with pytest.raises(HostUnresolved):
        resolve_target("https://nowhere.invalid/", allow_private=False, resolve=PUBLIC)


def test_allow_private_lets_loopback_and_private_through() -> None:
    resolve = resolver({"localhost": ["127.0.0.1"]})
    for url in ("http://127.0.0.1:8080/", "http://10.0.0.5/", "http://localhost/"):
        _, addresses = resolve_target(url, allow_private=True, resolve=resolve)
        assert addresses


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "http://u:p@127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
    ],
)
def test_allow_private_still_refuses_schemes_credentials_and_odd_spellings(
    url: str,
) -> None:
    with pytest.raises(DestinationRefused):
        resolve_target(url, allow_private=True, resolve=PUBLIC)


def test_parse_target_defaults_ports_and_lowers_host() -> None:
    assert parse_target("https://Hooks.Example.com/x").port == 443
    assert parse_target("http://hooks.example.com/x").port == 80
    assert parse_target("http://hooks.example.com:81/").host == "hooks.example.com"


def test_no_addresses_is_refused() -> None:
    with pytest.raises(DestinationRefused, match="no address"):
        check_addresses([], allow_private=True)


def test_refusal_message_names_the_reason_not_the_secret_parts() -> None:
    with pytest.raises(DestinationRefused) as caught:
        resolve_target("http://user:hunter2@hooks.example.com/", allow_private=False)
    assert "hunter2" not in caught.value.message


# IPv6 addresses that carry an IPv4 address, with the one they carry refused; the
# IPv6 form is named in the refusal. Teredo carries two: its server and, with every
# bit inverted, its client (here 127.0.0.1, 10.0.0.1 and 8.8.8.8 behind the server).
EMBEDDED_REFUSED = [
    ("::127.0.0.1", "IPv4-compatible", "loopback"),
    ("::7f00:1", "IPv4-compatible", "loopback"),
    ("::10.0.0.1", "IPv4-compatible", "private"),
    ("::169.254.169.254", "IPv4-compatible", "metadata"),
    ("::100.64.0.1", "IPv4-compatible", "private"),
    ("::224.0.0.1", "IPv4-compatible", "multicast"),
    ("::0.0.0.2", "IPv4-compatible", "private"),
    ("::ffff:127.0.0.1", "IPv4-mapped", "loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped", "metadata"),
    ("::ffff:0.0.0.0", "IPv4-mapped", "unspecified"),
    ("::ffff:192.168.1.1", "IPv4-mapped", "private"),
    ("2002:7f00:1::1", "6to4", "loopback"),
    ("2002:a00:1::", "6to4", "private"),
    ("2002:a9fe:a9fe::1", "6to4", "metadata"),
    ("2001:0:4136:e378:8000:9c40:80ff:fffe", "Teredo", "loopback"),
    ("2001:0:4136:e378:8000:9c40:f5ff:fffe", "Teredo", "private"),
    ("2001:0:a00:1:8000:9c40:f7f7:f7f7", "Teredo", "private"),
    ("64:ff9b::7f00:1", "NAT64", "loopback"),
    ("64:ff9b::10.0.0.1", "NAT64", "private"),
    ("64:ff9b::169.254.169.254", "NAT64", "metadata"),
]


@pytest.mark.parametrize(("address", "form", "reason"), EMBEDDED_REFUSED)
def test_ipv6_carrying_a_refused_ipv4_is_refused(
    address: str, form: str, reason: str
) -> None:
    with pytest.raises(DestinationRefused) as caught:
        check_addresses([address], allow_private=False)
    assert form in caught.value.message
    assert reason in caught.value.message


@pytest.mark.parametrize(("address", "form", "reason"), EMBEDDED_REFUSED)
def test_ipv6_literal_carrying_a_refused_ipv4_is_refused(
    address: str, form: str, reason: str
) -> None:
    with pytest.raises(DestinationRefused, match=form):
        resolve_target(f"http://[{address}]:9998/h", allow_private=False)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # The local-use NAT64 prefix is local by definition, and its IPv4 address
        # may sit at several places: refused whole.
        ("64:ff9b:1::7f00:1", "local-use NAT64"),
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("64:ff9b:1:7f00:1::", "local-use NAT64"),
        # Reserved: IPv4-translated (SIIT), and unassigned space around ::/96.
        ("::ffff:0:7f00:1", "reserved"),
        ("::ffff:0:808:808", "reserved"),
        ("::1:0:0:1", "reserved"),
        ("100::1", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
    ],
)
def test_reserved_and_local_ipv6_forms_are_refused(address: str, reason: str) -> None:
    with pytest.raises(DestinationRefused, match=reason):
        check_addresses([address], allow_private=False)


@pytest.mark.parametrize(
    ("address", "form"),
    [
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::8.8.8.8", "IPv4-compatible"),
        ("2002:808:808::1", "6to4"),
        ("2001:0:4136:e378:8000:9c40:f7f7:f7f7", "Teredo"),  # both public
        ("64:ff9b::8.8.8.8", "NAT64"),
    ],
)
def test_ipv6_carrying_a_public_ipv4_is_refused_by_its_form(
    address: str, form: str
) -> None:
    with pytest.raises(DestinationRefused, match=form):
        check_addresses([address], allow_private=False)


def test_names_resolving_to_an_ipv4_compatible_loopback_are_refused() -> None:
    resolve = resolver({"evil.example.com": ["2606:2800:220:1::1", "::7f00:1"]})
    with pytest.raises(DestinationRefused, match="IPv4-compatible"):
        resolve_target(
            "https://evil.example.com/", allow_private=False, resolve=resolve
        )
