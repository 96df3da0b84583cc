"""REDIS_URL's sentinel:// form: what it names, and what Celery is given."""

import pytest
import redis.asyncio
import redis.sentinel

from shared.errors import SettingsError
from shared.redis_servers import (
    async_redis_client,
    celery_broker,
    parse_sentinel_url,
    redbeat_settings,
    redis_client,
)
from shared.settings import RedisSettings, load_settings

URL = "sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/3?master=helixq"


def test_a_sentinel_url_names_its_sentinels_master_and_database() -> None:
    found = parse_sentinel_url(URL)
    assert found.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (found.master, found.db, found.password) == ("helixq", 3, "s3cret")
    assert found.sentinel_password is None


def test_celery_gets_one_sentinel_url_each_and_the_master_name() -> None:
    broker, options = celery_broker(URL + "&sentinel_password=guard")
    assert broker == (
        "sentinel://:s3cret@10.0.0.1:26379/3;sentinel://:s3cret@10.0.0.2:26380/3"
    )
    assert options == {
        "master_name": "helixq",
        "sentinel_kwargs": {"password": "guard"},
    }


def test_a_plain_redis_url_goes_to_celery_as_it_is() -> None:
    assert celery_broker("redis://127.0.0.1:6379/0") == ("redis://127.0.0.1:6379/0", {})


def test_clients_of_a_sentinel_url_ask_the_sentinels_for_the_master() -> None:
    blocking = redis_client(URL, socket_timeout=2)
    asynchronous = async_redis_client(URL)
    pool = blocking.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.service_name == "helixq"
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["socket_timeout"] == 2
    assert isinstance(asynchronous, redis.asyncio.Redis)
    assert asynchronous.connection_pool.service_name == "helixq"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("sentinel://10.0.0.1:26379/0", "?master=<name>"),
        ("sentinel://10.0.0.1/0?master=m", "host:port"),
        ("sentinel://10.0.0.1:26379/zero?master=m", "is a number"),
        ("sentinel://10.0.0.1:26379/0?master=m&db=2", "unknown sentinel:// option"),
        ("memcache://10.0.0.1:11211", "should match pattern"),
    ],
)
def test_a_bad_redis_url_is_refused_at_start_saying_why(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(SettingsError, match="invalid REDIS_URL") as caught:
        load_settings(RedisSettings)
    assert said in str(caught.value)


def test_a_refused_url_with_a_password_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "sentinel://:s3cret@10.0.0.1:26379/0")
    with pytest.raises(SettingsError) as caught:
        load_settings(RedisSettings)
    assert "s3cret" not in str(caught.value)


def test_redbeat_gets_the_sentinels_in_its_options() -> None:
    url, options = redbeat_settings(URL)
    assert url == "redis-sentinel://10.0.0.1:26379/3"
    assert options == {
        "sentinels": [("10.0.0.1", 26379), ("10.0.0.2", 26380)],
        "service_name": "helixq",
        "db": 3,
        "password": "s3cret",
    }
    assert redbeat_settings("redis://127.0.0.1:6379/0") == (
        "redis://127.0.0.1:6379/0",
        {},
    )
