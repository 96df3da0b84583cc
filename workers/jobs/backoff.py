"""How long to wait before a retry (pure)."""

import random


def retry_delay_s(
    retries: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter, never sooner than the upstream asked
    (`Retry-After`), and never longer than `cap_s`.

    `retries` is how many retries came before this one (0 for the first).
    """
    ceiling = min(cap_s, base_s * 2 ** min(retries, 32))
    jittered = (rng or random).uniform(0.0, ceiling)
    return min(cap_s, max(jittered, retry_after_s or 0.0))
