"""The token bucket Lua scripts on fakeredis: burst, refill, all-or-nothing,
reservation within the horizon, cool-downs and the adaptive factor."""

import asyncio
import time

import fakeredis
import pytest

from shared.rate_limits import RateLimitSettings, parse_limits
from shared.redis_keys import limit_cool_down
from workers.limits.buckets import RateLimiter, RedisClock
from workers.runtime.redis_batching import RedisBatcher

MODEL = "openai/gpt-4o"


def _limiter(client, limits: str, **settings) -> RateLimiter:
    settings = {"helixq_limit_burst_margin": 0, **settings}
    return RateLimiter(
        RedisBatcher(client),
        RateLimitSettings(helixq_provider_limits=limits, **settings),
    )


@pytest.fixture
def client():
    return fakeredis.FakeAsyncRedis()


def _take(limiter, *, tokens=1, tenant="t", tenant_table=None, horizon_s=0.0):
    return asyncio.run(
        limiter.take(
            MODEL,
            tokens=tokens,
            tenant=tenant,
            tenant_table=tenant_table or {},
            horizon_s=horizon_s,
        )
    )


def test_burst_is_granted_at_once_then_the_next_call_waits(client):
    # A slow refill, so a loaded machine cannot let a token back between the calls.
    limiter = _limiter(client, "openai=2rps/burst=3")

    grants = [_take(limiter) for _ in range(3)]
    refused = _take(limiter)

    assert all(g.granted and g.wait_s == 0 for g in grants)
    assert not refused.granted
    assert 0 < refused.wait_s <= 1 / 2 + 0.005


def test_the_burst_margin_holds_back_tokens_but_never_the_last_call(client):
    limiter = _limiter(client, "openai=60rps/burst=3", helixq_limit_burst_margin=1)
    single = _limiter(client, "anthropic=60rps/burst=1", helixq_limit_burst_margin=1)

    grants = [_take(limiter).granted for _ in range(3)]

    assert grants == [True, True, False]
    assert asyncio.run(
        single.take("anthropic/claude", tokens=1, tenant="t", tenant_table={})
    ).granted


def test_reservation_within_the_horizon_is_granted_with_its_wait(client):
    # Slots a second apart: the time between the calls is far below the tolerance.
    limiter = _limiter(client, "openai=1rps/burst=1")

    first = _take(limiter, horizon_s=10.0)
    second = _take(limiter, horizon_s=10.0)
    third = _take(limiter, horizon_s=10.0)

    assert first.wait_s == 0
    assert second.granted
    assert second.wait_s == pytest.approx(1.0, abs=0.1)
    assert third.wait_s == pytest.approx(2.0, abs=0.1)  # its own later slot


def test_tokens_refill_at_the_rate(client):
    limiter = _limiter(client, "openai=5rps/burst=1")
    assert _take(limiter).granted
    assert not _take(limiter).granted

    asyncio.run(asyncio.sleep(0.3))

    assert _take(limiter).granted


def test_buckets_are_taken_all_or_none(client):
    # Plenty of requests, but the token bucket cannot cover a second 100-token call.
    limiter = _limiter(client, "openai=600rps/6000tpm/tburst=150")
    assert _take(limiter, tokens=100).granted

    refused = _take(limiter, tokens=100)
    after = _take(limiter, tokens=40)

    assert not refused.granted
    assert after.granted  # the refused call took no request token either


def test_a_tenant_bucket_binds_on_top_of_the_shared_one(client):
    limiter = _limiter(client, "openai=600rps/burst=100")
    own = parse_limits("openai=60rpm/burst=1")

    assert _take(limiter, tenant="a", tenant_table=own).granted
    assert not _take(limiter, tenant="a", tenant_table=own).granted
    assert _take(limiter, tenant="b").granted  # another tenant is not held back


def test_cool_down_blocks_every_caller_for_retry_after(client):
    limiter = _limiter(client, "")
    factor = asyncio.run(limiter.cool_down(MODEL, retry_after_s=5))

    other_process = _limiter(client, "")
    refused = _take(other_process, horizon_s=1.0)

    assert factor == pytest.approx(0.5)
    assert not refused.granted
    assert 4 < refused.wait_s <= 5
    assert asyncio.run(client.pttl(limit_cool_down(MODEL))) > 4000


def test_repeated_429s_lower_the_rate_once_a_second_and_it_recovers(client):
    limiter = _limiter(client, "openai=10rps/burst=1", helixq_limit_recovery_per_s=0.5)

    first = asyncio.run(limiter.cool_down(MODEL, retry_after_s=0))
    same_burst = asyncio.run(limiter.cool_down(MODEL, retry_after_s=0))
    assert first == pytest.approx(0.5)
    assert same_burst == pytest.approx(0.5, abs=0.01)  # within the quiet second

    assert _take(limiter).granted
    slower = _take(limiter)
    assert slower.wait_s == pytest.approx(0.2, abs=0.02)  # 10/s at half rate

    asyncio.run(asyncio.sleep(1.1))  # +0.55: full rate again
    assert asyncio.run(limiter.cool_down(MODEL, retry_after_s=0)) == pytest.approx(
        0.5, abs=0.01
    )


def _settle(limiter, *, estimated, used, tenant_table=None):
    asyncio.run(
        limiter.settle_tokens(
            MODEL,
            estimated=estimated,
            used=used,
            tenant="t",
            tenant_table=tenant_table or {},
        )
    )


def test_tokens_the_estimate_took_beyond_the_usage_are_given_back(client):
    # 60 tokens a minute (one a second), burst 1000: barely any refill in a test.
    limiter = _limiter(client, "openai=60tpm/tburst=1000")
    assert _take(limiter, tokens=900).granted
    assert not _take(limiter, tokens=900).granted

    _settle(limiter, estimated=900, used=100)

    assert _take(limiter, tokens=900).granted


def test_a_call_that_used_more_than_its_estimate_is_charged_the_rest(client):
    limiter = _limiter(client, "openai=60tpm/tburst=1000")
    assert _take(limiter, tokens=100).granted

    _settle(limiter, estimated=100, used=600)

    assert not _take(limiter, tokens=500).granted
    assert _take(limiter, tokens=250).granted


def test_giving_back_never_fills_a_bucket_past_its_burst(client):
    limiter = _limiter(client, "openai=60tpm/tburst=1000")
    assert _take(limiter, tokens=10).granted

    _settle(limiter, estimated=10_000, used=10)

    assert _take(limiter, tokens=1000).granted
    assert not _take(limiter, tokens=5).granted


def test_settling_leaves_the_request_buckets_alone(client):
    limiter = _limiter(client, "openai=60rpm/60tpm/burst=1/tburst=1000")
    assert _take(limiter, tokens=500).granted

    _settle(limiter, estimated=500, used=10)

    assert not _take(limiter, tokens=10).granted  # the one request is spent


def test_a_slot_is_on_redis_clock_so_a_reply_read_late_does_not_move_it():
    clock = RedisClock()
    clock.slot(0.0, time.time())  # a reply read at once: the clocks agree
    # Granted half a second ahead, the reply read 50 ms late: the slot stays.
    slot_s = clock.slot(0.5, time.time() - 0.05)
    assert slot_s == pytest.approx(time.monotonic() + 0.45, abs=0.01)


def test_a_host_clock_off_redis_is_learnt_from_the_quickest_reply():
    clock = RedisClock()
    # Redis's clock reads 5 s behind this host's; the first reply took 80 ms, the
    # second 1 ms: from then on slots are placed by the quicker one.
    clock.slot(0.0, time.time() - 5.08)
    clock.slot(0.0, time.time() - 5.001)
    late = clock.slot(0.5, time.time() - 5.2)  # read 200 ms after Redis granted
    assert late == pytest.approx(time.monotonic() + 0.3, abs=0.01)
    # A reply no quicker than the best does not move the clock back.
    assert clock.slot(0.5, time.time() - 5.05) == pytest.approx(
        time.monotonic() + 0.45, abs=0.01
    )


def test_a_grant_carries_its_slot_on_this_process_clock(client):
    limiter = _limiter(client, "openai=2rps/burst=1")
    first, second = _take(limiter), _take(limiter, horizon_s=1.0)
    assert first.slot_s == pytest.approx(time.monotonic(), abs=0.05)
    assert second.slot_s == pytest.approx(time.monotonic() + second.wait_s, abs=0.05)
    assert second.wait_s == pytest.approx(0.5, abs=0.05)
