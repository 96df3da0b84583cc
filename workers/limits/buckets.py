"""Token buckets, cool-downs and the adaptive factor, shared through Redis.

Every worker process and host takes from the same buckets with one Lua call
(shared.token_bucket), on the process's event loop, sent with the other jobs'
Redis commands (workers.runtime.redis_batching). Global buckets (provider and model,
HELIXQ_PROVIDER_LIMITS) follow the provider's adaptive factor; a tenant's own
buckets do not (they are the tenant's caps, not the provider's capacity). OpenRouter
counts capacity per account, so the global buckets, cool-downs and factors are kept
per OpenRouter key (named by its label, never the key): tenants sharing a key share
them, and a 429 storm on one key slows no call on another.
"""

import time
from dataclasses import dataclass

from shared.model_ids import upstream_model_id
from shared.rate_limits import (
    TOKENS_SUFFIX,
    BucketSpec,
    LimitTable,
    RateLimitSettings,
    bucket_specs,
    provider_of,
)
from shared.redis_keys import limit_bucket, limit_cool_down, limit_factor
from shared.token_bucket import COOL_DOWN_SCRIPT, TAKE_SCRIPT, take_call
from workers.runtime.redis_batching import RedisBatcher

# Lower the factor at most once in this long: the 429s of calls already in flight
# report the same overload.
QUIET_MS = 1000
SETTLE_HORIZON_S = 86_400.0
# How long a measure of where Redis's clock stands is kept before it is learnt again
# (a host clock stepped or slewed meanwhile is followed).
CLOCK_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Grant:
    """The buckets' answer: `granted` means "call after `wait_s`", at `slot_s`
    (time.monotonic()); otherwise nothing was taken and capacity frees in `wait_s`."""

    granted: bool
    wait_s: float
    slot_s: float


class RedisClock:
    """Slots on Redis's clock, which every worker shares, placed on this process's.

    A slot counted from when the reply was read moves with the event loop's delays,
    and slots moved by different amounts bunch calls. Redis says when it granted;
    a reply is read some delay after, so the least (host clock - Redis's) seen is
    the clocks' offset plus the shortest delay: the best estimate there is (as NTP
    keeps the sample with the shortest round trip), and one that holds across hosts
    whose clocks differ."""

    def __init__(self) -> None:
        self._offset_s: float | None = None
        self._learnt_at = 0.0

    def slot(self, wait_s: float, redis_clock_s: float) -> float:
        """When a call granted `wait_s` after Redis's `redis_clock_s` may go, on
        time.monotonic()."""
        now_s, wall_s = time.monotonic(), time.time()
        sample = wall_s - redis_clock_s
        stale = now_s - self._learnt_at > CLOCK_WINDOW_S
        if self._offset_s is None or sample < self._offset_s or stale:
            self._offset_s, self._learnt_at = sample, now_s
        return now_s + redis_clock_s + self._offset_s + wait_s - wall_s


class RateLimiter:
    """Takes tokens for calls and cools models down after upstream 429s."""

    def __init__(self, redis: RedisBatcher, settings: RateLimitSettings) -> None:
        self._redis = redis
        self._settings = settings
        self._table = settings.provider_table
        self._clock = RedisClock()

    async def take(
        self,
        model_id: str,
        *,
        tokens: int,
        tenant: str,
        tenant_table: LimitTable,
        upstream: str = "",
        horizon_s: float | None = None,
    ) -> Grant:
        """Take one request and `tokens` tokens for a call to `model_id` from every
        bucket that applies (all or none), reserving up to `horizon_s` ahead.
        `upstream` scopes the provider's capacity to the OpenRouter key the call
        goes out on (UpstreamKey.scope)."""
        model = upstream_model_id(model_id)
        buckets = self._buckets(model, tokens, tenant, tenant_table, upstream)
        provider = provider_of(model)
        call = take_call(
            buckets,
            cool_down_keys=[
                limit_cool_down(upstream + provider),
                limit_cool_down(upstream + model),
            ],
            factor_key=limit_factor(upstream + provider),
            horizon_s=self._settings.helixq_limit_horizon_s
            if horizon_s is None
            else horizon_s,
            burst_margin=self._settings.helixq_limit_burst_margin,
        )
        granted, wait_ms, clock_ms = await self._redis.eval(
            TAKE_SCRIPT, call.keys, call.args
        )
        wait_s = float(wait_ms) / 1000
        return Grant(
            granted=bool(int(granted)),
            wait_s=wait_s,
            slot_s=self._clock.slot(wait_s, float(clock_ms) / 1000),
        )

    async def settle_tokens(
        self,
        model_id: str,
        *,
        estimated: int,
        used: int,
        tenant: str,
        tenant_table: LimitTable,
        upstream: str = "",
    ) -> None:
        """Correct the token buckets once a call's usage is known: give back what
        the estimate (prompt estimate + max_tokens) took beyond it, or take what
        it used beyond the estimate. No Redis call without a tokens-per-minute
        bucket for the model."""
        model = upstream_model_id(model_id)
        buckets = [
            bucket
            for bucket in self._buckets(
                model, used - estimated, tenant, tenant_table, upstream
            )
            if bucket[1].scope.endswith(TOKENS_SUFFIX)
        ]
        if not buckets or used == estimated:
            return
        call = take_call(
            buckets,
            cool_down_keys=[],
            factor_key=limit_factor(upstream + provider_of(model)),
            horizon_s=SETTLE_HORIZON_S,  # a correction always applies
        )
        await self._redis.eval(TAKE_SCRIPT, call.keys, call.args)

    def _buckets(
        self,
        model: str,
        tokens: int,
        tenant: str,
        tenant_table: LimitTable,
        upstream: str,
    ) -> list[tuple[str, BucketSpec, bool]]:
        """(key, spec, adaptive) of every bucket a call to `model` takes from:
        the global ones (one set per OpenRouter key) follow the provider's
        factor, the tenant's own do not."""
        own = f"tenant:{tenant}:"
        return [
            (limit_bucket(spec.scope), spec, True)
            for spec in bucket_specs(
                model, tokens=tokens, table=self._table, prefix=upstream
            )
        ] + [
            (limit_bucket(spec.scope), spec, False)
            for spec in bucket_specs(
                model, tokens=tokens, table=tenant_table, prefix=own
            )
        ]

    async def cool_down(
        self, model_id: str, *, retry_after_s: float | None, upstream: str = ""
    ) -> float:
        """After an upstream 429: no call to `model_id` on the `upstream` key for
        `retry_after_s` (from Retry-After or X-RateLimit-Reset; the default
        cool-down when absent), and the provider's rate on that key lowered.
        Returns the provider's factor now."""
        model = upstream_model_id(model_id)
        cool_s = self._settings.helixq_limit_cool_down_s
        if retry_after_s is not None:
            cool_s = retry_after_s
        settings = self._settings
        factor = await self._redis.eval(
            COOL_DOWN_SCRIPT,
            [
                limit_factor(upstream + provider_of(model)),
                limit_cool_down(upstream + model),
            ],
            [
                repr(cool_s * 1000),
                repr(settings.helixq_limit_backoff),
                repr(settings.helixq_limit_min_factor),
                repr(settings.helixq_limit_recovery_per_s / 1000),
                QUIET_MS,
            ],
        )
        return float(factor)
