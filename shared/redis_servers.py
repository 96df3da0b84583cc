"""Where Redis is: one server, or the master a set of Sentinels names.

`REDIS_URL` is either a URL redis-py reads (`redis://`, `rediss://`, `unix://`)
or the Sentinels' form:

    sentinel://[[user]:password@]host:port[,host:port...]/<db>?master=<name>
        [&sentinel_password=<password>]

The user and password are the master's; the Sentinels' own password, when they
ask for one, is `sentinel_password`. Every Redis client helixq opens comes from
here, so that each finds the master again after a failover: redis-py asks the
Sentinels for the master on every new connection, and drops a connection to a
server that has become a replica.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis
import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "sentinel"
URL_FORMS = "redis://, rediss://, unix:// or sentinel://host:port[,host:port]/<db>?master=<name>"
_KNOWN_OPTIONS = {"master", "sentinel_password"}


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    username: str | None
    password: str | None
    sentinel_password: str | None


def is_sentinel(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a `sentinel://` URL; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"expected {URL_FORMS}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    options = parse_qs(parts.query)
    unknown = set(options) - _KNOWN_OPTIONS
    if unknown:
        raise ValueError(f"unknown sentinel:// option {sorted(unknown)[0]!r}")
    master = options.get("master", [""])[-1]
    if not master:
        raise ValueError("a sentinel:// URL names its master: ?master=<name>")
    path = parts.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"the database of a sentinel:// URL is a number, not {path!r}")
    password_given = options.get("sentinel_password", [""])[-1]
    return SentinelUrl(
        sentinels=tuple(_address(host) for host in hosts.split(",")),
        master=master,
        db=int(path),
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=password_given or None,
    )


def _address(host: str) -> tuple[str, int]:
    name, _, port = host.rpartition(":")
    if not name or not port.isdigit():
        raise ValueError(f"each Sentinel is host:port, not {host!r}")
    return name.strip("[]"), int(port)


def redis_client(url: str, **options: Any) -> "redis.Redis":
    """A blocking client of the Redis at `url` (the master, for sentinel://)."""
    if not is_sentinel(url):
        client: redis.Redis = redis.Redis.from_url(url, **options)
        return client
    found = parse_sentinel_url(url)
    sentinels = Sentinel(
        list(found.sentinels),
        sentinel_kwargs=_sentinel_options(found, options),
        **_master_options(found, options),
    )
    master: redis.Redis = sentinels.master_for(found.master)
    return master


def async_redis_client(url: str, **options: Any) -> "redis.asyncio.Redis":
    """An asyncio client of the Redis at `url` (the master, for sentinel://)."""
    if not is_sentinel(url):
        client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url, **options)
        return client
    found = parse_sentinel_url(url)
    sentinels = AsyncSentinel(
        list(found.sentinels),
        sentinel_kwargs=_sentinel_options(found, options),
        **_master_options(found, options),
    )
    master: redis.asyncio.Redis = sentinels.master_for(found.master)
    return master


def _master_options(found: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "db": found.db,
        "username": found.username,
        "password": found.password,
        **options,
    }


def _sentinel_options(found: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    # The Sentinels answer on their own connections: the same timeouts, their
    # own password.
    timeouts = {
        name: value for name, value in options.items() if name.startswith("socket_")
    }
    return {"password": found.sentinel_password, **timeouts}


def celery_broker(url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL for `url`, and the transport options it needs besides.

    kombu's Sentinel transport takes one `sentinel://` URL per Sentinel, joined by
    `;`, and the master's name as the `master_name` transport option."""
    if not is_sentinel(url):
        return url, {}
    found = parse_sentinel_url(url)
    auth = ""
    if found.password is not None:
        auth = f"{quote(found.username or '', safe='')}:"
        auth += f"{quote(found.password, safe='')}@"
    broker = ";".join(
        f"{SENTINEL_SCHEME}://{auth}{host}:{port}/{found.db}"
        for host, port in found.sentinels
    )
    options: dict[str, Any] = {"master_name": found.master}
    if found.sentinel_password is not None:
        options["sentinel_kwargs"] = {"password": found.sentinel_password}
    return broker, options


def redbeat_settings(url: str) -> tuple[str, dict[str, Any]]:
    """RedBeat's `redbeat_redis_url` and `redbeat_redis_options` for `url`.

    RedBeat reads Sentinels from its options (`sentinels`, `service_name`) when
    its URL starts with `redis-sentinel`; the URL itself is then only shown."""
    if not is_sentinel(url):
        return url, {}
    found = parse_sentinel_url(url)
    host, port = found.sentinels[0]
    options: dict[str, Any] = {
        "sentinels": list(found.sentinels),
        "service_name": found.master,
        "db": found.db,
        "password": found.password,
    }
    if found.username is not None:
        options["username"] = found.username
    if found.sentinel_password is not None:
        options["sentinel_kwargs"] = {"password": found.sentinel_password}
    return f"redis-sentinel://{host}:{port}/{found.db}", options
