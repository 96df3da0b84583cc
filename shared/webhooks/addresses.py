"""Which webhook destinations may be reached: the SSRF policy.

Checked twice: when a URL is registered (its host resolved) and again when a
delivery connects, on the very addresses it connects to (DNS rebinding).
"""

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared.webhooks.errors import DestinationRefused, HostUnresolved

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Cloud metadata services; both also fall in the ranges below, named for clarity.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Hosts such as `2130706433`, `0x7f.0.0.1` or `0177.0.0.1`: resolvers read them as
# IPv4 addresses, so they are only allowed in their canonical dotted form.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")
# IPv6 prefixes whose low 32 bits are an IPv4 address: NAT64's well-known prefix and
# the deprecated IPv4-compatible ::a.b.c.d (:: and ::1 are refused before).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# NAT64's local-use prefix: local by definition, its IPv4 address at one of several
# places depending on the network, so it is refused whole.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: what to resolve and what to connect to."""

    scheme: str
    host: str  # lower case, no brackets
    port: int


def parse_target(url: str) -> Target:
    """Take `url` apart; raises DestinationRefused on scheme, credentials, spelling."""
    parts = _split(url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationRefused("the URL has no host")
    if _NUMERIC_HOST.match(host) and not _is_canonical_ipv4(host):
        raise DestinationRefused("write an IPv4 address as four decimal numbers")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise DestinationRefused("the port is not a number from 0 to 65535") from None
    return Target(scheme=parts.scheme, host=host, port=port)


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise DestinationRefused("the URL cannot be parsed") from None
    if parts.scheme not in ALLOWED_SCHEMES:
        raise DestinationRefused("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("credentials are not allowed in the URL")
    return parts


def _is_canonical_ipv4(host: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is written as, or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why `address` may not be reached (private, loopback, ...), or None."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if isinstance(address, ipaddress.IPv6Address):
        reason = _ipv6_form_refusal(address)
        if reason is not None:
            return reason
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        # Private ranges, 100.64/10 carrier-grade NAT, unique-local IPv6, and the
        # documentation and benchmarking ranges.
        return "a private or reserved address"
    return None


def _ipv6_form_refusal(address: ipaddress.IPv6Address) -> str | None:
    """Why an IPv6 address that carries an IPv4 address is refused, or None.

    Such an address reaches its IPv4 address through the host's stack, a tunnel
    or a translator, so the IPv4 address decides where a request lands; the IPv6
    form is refused whatever it carries, naming the carried address's reason.
    """
    if address in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    carried = _carried_ipv4(address)
    if carried is None:
        return None
    form, embedded = carried
    for ipv4 in embedded:
        reason = refusal_reason(ipv4)
        if reason is not None:
            return f"{reason} inside {form}"
    return form


def _carried_ipv4(
    address: ipaddress.IPv6Address,
) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv6 form of `address` and the IPv4 addresses it carries, if it is one."""
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address", [address.ipv4_mapped]
    if address.sixtofour is not None:
        return "a 6to4 IPv6 address", [address.sixtofour]
    if address.teredo is not None:
        return "a Teredo IPv6 address", list(address.teredo)  # server, client
    low_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return "a NAT64 IPv6 address", [low_32_bits]
    if address in _IPV4_COMPATIBLE:
        return "an IPv4-compatible IPv6 address", [low_32_bits]
    return None


def check_addresses(addresses: list[str], *, allow_private: bool) -> list[IPAddress]:
    """Every resolved address, parsed; raises DestinationRefused if any is refused."""
    if not addresses:
        raise DestinationRefused("the host resolves to no address")
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if allow_private:
        return parsed
    for address in parsed:
        reason = refusal_reason(address)
        if reason is not None:
            raise DestinationRefused(f"the host resolves to {reason}")
    return parsed


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (blocking: run it off the event loop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_target(
    url: str, *, allow_private: bool, resolve: Resolver = system_resolver
) -> tuple[Target, list[IPAddress]]:
    """Parse `url`, resolve its host and check every address it resolves to."""
    target = parse_target(url)
    literal = literal_address(target.host)
    if literal is not None:
        return target, check_addresses([str(literal)], allow_private=allow_private)
    try:
        found = resolve(target.host, target.port)
    except OSError:
        raise HostUnresolved("the host does not resolve") from None
    return target, check_addresses(found, allow_private=allow_private)
