"""The audit trail: who changed what, written in the transaction of the change.

Every admin action and every key action (API or CLI) calls `record` with the
session that makes the change, so the entry and the change commit or roll back
together. `before` and `after` pass through `without_secrets` first: a key, a
hash, a token or a secret never reaches the trail.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.orm import Session

from shared.db.models import AuditEvent

ADMIN = "admin"  # the actor of the admin token and of the operator's CLI
CLI_SOURCE = "cli"  # the source of an action taken with the `helixq` command

# Field names whose values are secrets wherever they appear.
_SECRET_NAMES = frozenset({"key", "key_hash", "api_key", "secret", "password"})
_SECRET_PARTS = ("secret", "token", "password", "_key_hash", "api_key")


@dataclass(frozen=True)
class Actor:
    """Who acts (`admin` or the acting key's prefix) and from where."""

    name: str
    source: str | None


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(part in lowered for part in _SECRET_PARTS)


def without_secrets(value: Any) -> Any:
    """`value` as JSON (dates as ISO text, decimals as strings) with every
    secret-named field dropped, at any depth."""
    value = to_jsonable_python(value)
    if isinstance(value, Mapping):
        return {
            str(name): without_secrets(item)
            for name, item in value.items()
            if not is_secret_name(str(name))
        }
    if isinstance(value, list | tuple):
        return [without_secrets(item) for item in value]
    return value


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str,
    tenant: str | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Add one entry to the session's transaction (written at its next flush)."""
    session.add(
        AuditEvent(
            actor=actor.name[:64],
            action=action,
            tenant=tenant,
            target=target[:300],
            before=without_secrets(before) if before is not None else None,
            after=without_secrets(after) if after is not None else None,
            source=actor.source[:100] if actor.source else None,
        )
    )
