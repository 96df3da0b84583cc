"""API key request and response bodies (the admin's and the tenant's own)."""

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from shared.api_keys import KeyScope
from shared.db.models import ApiKey

MAX_OVERLAP_S = 30 * 24 * 3600
MAX_REQUESTS_PER_MINUTE = 1_000_000
MAX_ALLOWED_MODELS = 200


def in_utc(moment: datetime | None) -> datetime | None:
    """In UTC, where Postgres stores it and every read brings it back: an offset
    that pushes it past year 1 or 9999 would make the key unreadable."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 1 to 9999 in UTC") from None


class KeyCreate(BaseModel):
    name: str = Field(default="default", min_length=1, max_length=200)
    expires_at: datetime | None = Field(
        default=None, description="UTC unless it carries an offset"
    )
    scopes: list[KeyScope] | None = Field(
        default=None,
        min_length=1,
        description="read, submit, keys; omitted: all (a tenant's key: its own)",
    )
    allowed_models: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ALLOWED_MODELS,
        description="narrows the tenant's allowed models for this key",
    )
    requests_per_minute: int | None = Field(
        default=None, ge=1, le=MAX_REQUESTS_PER_MINUTE
    )

    @field_validator("expires_at")
    @classmethod
    def _in_utc_calendar(cls, moment: datetime | None) -> datetime | None:
        return in_utc(moment)


class KeyRotate(BaseModel):
    overlap_s: int = Field(
        default=3600,
        ge=0,
        le=MAX_OVERLAP_S,
        description="how long the old key keeps working, in seconds",
    )


class KeyView(BaseModel):
    """A key as listed: never the secret, nor its hash."""

    prefix: str
    name: str
    status: Literal["active", "expired", "revoked"]
    scopes: list[str]
    allowed_models: list[str] | None
    requests_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, api_key: ApiKey, now: datetime | None = None) -> "KeyView":
        now = now or datetime.now(UTC)
        status: Literal["active", "expired", "revoked"] = "active"
        if api_key.revoked_at is not None:
            status = "revoked"
        elif api_key.expires_at is not None and api_key.expires_at <= now:
            status = "expired"
        return cls(
            prefix=api_key.prefix,
            name=api_key.name,
            status=status,
            scopes=api_key.scopes or sorted(KeyScope),
            allowed_models=api_key.allowed_models,
            requests_per_minute=api_key.requests_per_minute,
            created_at=api_key.created_at,
            expires_at=api_key.expires_at,
            revoked_at=api_key.revoked_at,
            last_used_at=api_key.last_used_at,
        )


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyView]


class IssuedKey(BaseModel):
    """A new key, shown once: `key` is the only copy in clear."""

    key: str
    prefix: str
    api_key: KeyView
    replaces: KeyView | None = None  # a rotation's old key, with its new expiry
