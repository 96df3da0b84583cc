"""Tenants' signing secrets: read, create on first use, rotate with an overlap.

Plain functions over a sync Session (the worker and the CLI call them directly).
The tenant row is locked first, so two callers never both create a first secret.
"""

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.db.models import Tenant, WebhookSecret
from shared.webhooks.signing import generate_secret


def _lock_tenant(session: Session, tenant_id: UUID) -> None:
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def signing_secrets(session: Session, tenant_id: UUID, *, now: datetime) -> list[str]:
    """The secrets that sign now, newest first; creates the first one if none."""
    query = (
        select(WebhookSecret.secret)
        .where(
            WebhookSecret.tenant_id == tenant_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
        )
        .order_by(WebhookSecret.expires_at.desc().nulls_first())
        .order_by(WebhookSecret.created_at.desc())
    )
    found = list(session.scalars(query))
    return found or [current_secret(session, tenant_id)]


def current_secret(session: Session, tenant_id: UUID) -> str:
    """The tenant's lasting secret (no expiry), created if it has none."""
    _lock_tenant(session, tenant_id)
    secret = session.scalar(
        select(WebhookSecret.secret)
        .where(WebhookSecret.tenant_id == tenant_id, WebhookSecret.expires_at.is_(None))
        .order_by(WebhookSecret.created_at.desc())
        .limit(1)
    )
    if secret is None:
        secret = generate_secret()
        session.add(WebhookSecret(tenant_id=tenant_id, secret=secret))
        session.flush()
    return secret


def rotate_secret(
    session: Session, tenant_id: UUID, *, now: datetime, overlap: timedelta
) -> str:
    """A new lasting secret; the previous ones keep signing for `overlap`."""
    _lock_tenant(session, tenant_id)
    session.execute(
        update(WebhookSecret)
        .where(
            WebhookSecret.tenant_id == tenant_id,
            or_(
                WebhookSecret.expires_at.is_(None),
                WebhookSecret.expires_at > now + overlap,
            ),
        )
        .values(expires_at=now + overlap)
    )
    secret = generate_secret()
    session.add(WebhookSecret(tenant_id=tenant_id, secret=secret))
    session.flush()
    return secret
