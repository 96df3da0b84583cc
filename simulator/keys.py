"""Per-key state: calls counted by key label, 429 storms on one key, and the
sub-keys of OpenRouter's key provisioning API with their credit limits.

OpenRouter labels a key `sk-or-v1-0e6...1c96` (simulator.auth.key_label); the
simulator keeps and shows only labels, never a key, except the one answer that
creates a sub-key (as OpenRouter does).
"""

import hashlib
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator.auth import key_label
from simulator.billing import json_number
from simulator.errors import SimError

LIMIT_RESETS = ("daily", "weekly", "monthly")
STORM_RETRY_AFTER_S = 1


@dataclass
class SubKey:
    """A key made through POST /api/v1/keys."""

    hash: str
    name: str
    label: str
    limit_usd: Decimal | None
    limit_reset: str | None
    created_at: datetime
    updated_at: datetime | None = None
    disabled: bool = False
    spent_by_day: dict[date, Decimal] = field(default_factory=dict)

    def usage(self, today: date, period: str | None) -> Decimal:
        """USD spent since the start of `period` (None: ever)."""
        first = {
            None: date.min,
            "daily": today,
            "weekly": today - timedelta(days=today.weekday()),
            "monthly": today.replace(day=1),
        }[period]
        return sum(
            (usd for day, usd in self.spent_by_day.items() if day >= first),
            Decimal(0),
        )

    def remaining(self, today: date) -> Decimal | None:
        """What the limit leaves in the current period (None: no limit)."""
        if self.limit_usd is None:
            return None
        return self.limit_usd - self.usage(today, self.limit_reset)

    def as_json(self, today: date) -> dict[str, Any]:
        remaining = self.remaining(today)
        return {
            "hash": self.hash,
            "name": self.name,
            "label": self.label,
            "disabled": self.disabled,
            "limit": None if self.limit_usd is None else json_number(self.limit_usd),
            "limit_remaining": None if remaining is None else json_number(remaining),
            "limit_reset": self.limit_reset,
            "include_byok_in_limit": False,
            "usage": json_number(self.usage(today, None)),
            "usage_daily": json_number(self.usage(today, "daily")),
            "usage_weekly": json_number(self.usage(today, "weekly")),
            "usage_monthly": json_number(self.usage(today, "monthly")),
            "created_at": self.created_at.isoformat(),
            "updated_at": None
            if self.updated_at is None
            else self.updated_at.isoformat(),
            "expires_at": None,
        }


class KeyBook:
    """Calls by key label, storms by label, and the provisioned sub-keys."""

    def __init__(self) -> None:
        self.calls: dict[str, Counter[str]] = {}  # label -> status -> count
        self._storms: dict[str, float] = {}  # label -> until (monotonic)
        self._sub_keys: dict[str, SubKey] = {}  # by hash
        self._hash_of: dict[str, str] = {}  # key digest -> hash

    def record(self, key: str, status: int) -> None:
        """Count one chat completion answered `status` on `key`."""
        self.calls.setdefault(key_label(key), Counter())[str(status)] += 1

    def storm(self, label: str, for_s: float) -> None:
        """Answer 429 to every call on the key labelled `label` for `for_s`."""
        self._storms[label] = time.monotonic() + for_s

    def admit(self, key: str) -> None:
        """Raise the answer a call on `key` gets before any model is asked: a
        storm's 429, a disabled sub-key's 401, a spent sub-key's 403."""
        until = self._storms.get(key_label(key))
        if until is not None and time.monotonic() < until:
            raise SimError(
                429,
                "Rate limit exceeded: too many requests on this key",
                headers={"Retry-After": str(STORM_RETRY_AFTER_S)},
            )
        sub_key = self.sub_key_of(key)
        if sub_key is None:
            return
        if sub_key.disabled:
            raise SimError(401, "User not found.", is_authenticated=False)
        remaining = sub_key.remaining(datetime.now(UTC).date())
        if remaining is not None and remaining <= 0:
            raise SimError(403, "Key limit exceeded")

    def charge(self, hash_: str, cost_usd: Decimal, day: date) -> None:
        """Add a served call's cost to the sub-key it was made with."""
        sub_key = self._sub_keys.get(hash_)
        if sub_key is not None:
            sub_key.spent_by_day[day] = sub_key.spent_by_day.get(day, Decimal(0)) + (
                cost_usd
            )

    def sub_key_of(self, key: str) -> SubKey | None:
        found = self._hash_of.get(_digest(key))
        return None if found is None else self._sub_keys.get(found)

    def create(
        self, name: str, limit_usd: Decimal | None, limit_reset: str | None
    ) -> tuple[str, SubKey]:
        """A new sub-key and its secret (shown once)."""
        key = f"sk-or-v1-{secrets.token_hex(32)}"
        sub_key = SubKey(
            hash=secrets.token_hex(32),
            name=name,
            label=key_label(key),
            limit_usd=limit_usd,
            limit_reset=limit_reset,
            created_at=datetime.now(UTC),
        )
        self._sub_keys[sub_key.hash] = sub_key
        self._hash_of[_digest(key)] = sub_key.hash
        return key, sub_key

    def find(self, hash_: str) -> SubKey:
        sub_key = self._sub_keys.get(hash_)
        if sub_key is None:
            raise SimError(404, "API key not found")
        return sub_key

    def listed(self, *, include_disabled: bool) -> list[SubKey]:
        return [
            sub_key
            for sub_key in self._sub_keys.values()
            if include_disabled or not sub_key.disabled
        ]

    def delete(self, hash_: str) -> None:
        self.find(hash_)
        del self._sub_keys[hash_]
        self._hash_of = {d: h for d, h in self._hash_of.items() if h != hash_}

    def summary(self) -> dict[str, Any]:
        """GET /_sim/keys: calls by key label."""
        return {
            "calls": {
                label: {"total": counts.total(), "by_status": dict(counts)}
                for label, counts in self.calls.items()
            }
        }


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
