"""What the discount lane's periodic tasks share: their settings, collaborators and
the statuses helixq gives an upstream batch beside OpenRouter's own.

The tasks: grouping and sending (discount_submission, discount_grouping), following
and storing results (upstream_polling), cancelling and deleting upstream
(upstream_cleanup). docs/batches.md describes the lane.
"""

from dataclasses import dataclass, field
from uuid import UUID

from pydantic import SecretStr
from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from shared.lanes import CALLBACK_PATH
from shared.openrouter_key_store import tenant_openrouter_key
from shared.routing.router import RoutingDefaults
from shared.sealing import SecretBox, Unreadable
from workers.openrouter.batches import BatchApi
from workers.openrouter.errors import UpstreamRejected
from workers.runtime.job_sender import JobSender

SUBMITTING = "submitting"  # written, its POST not answered yet
REFUSED = "refused"  # OpenRouter refused the POST: its lines ran realtime
# The helixq batch was cancelled before the upstream batch was sent: never sent.
WITHDRAWN = "withdrawn"
# OpenRouter's statuses after which a batch changes no more.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class InFlightCaps:
    """Upstream batches (and their lines) in flight at once, per tenant and in all."""

    batches: int = 1000
    lines: int = 2_000_000
    tenant_batches: int = 200
    tenant_lines: int = 500_000


@dataclass(frozen=True)
class DiscountConfig:
    max_requests: int
    max_bytes: int
    reconcile_after_s: float
    batch_slug: bool = False
    callback_url: str | None = None
    routing: RoutingDefaults = field(default_factory=RoutingDefaults)
    caps: InFlightCaps = field(default_factory=InFlightCaps)
    # Delete an upstream batch once its results are stored (OpenRouter keeps them
    # 30 days otherwise).
    delete_stored: bool = True


@dataclass(frozen=True)
class DiscountDeps:
    """What the discount lane's sweeps use: real transactions, the Batch API, the
    sender that publishes lines moved to the realtime lane, the settings, and the
    Redis client of the budget ledgers (None: budgets are not reserved)."""

    sessions: sessionmaker[Session]
    api: BatchApi
    sender: JobSender
    config: DiscountConfig
    redis: Redis | None = None
    box: SecretBox | None = None  # opens tenants' own OpenRouter keys

    def api_of(self, session: Session, tenant_id: UUID) -> BatchApi:
        """The Batch API on the tenant's own OpenRouter key (the global key when
        it has none); UpstreamRejected when its key cannot be opened, so that its
        lines are never sent on another account's key."""
        try:
            key = tenant_openrouter_key(session, tenant_id, self.box)
        except Unreadable as error:
            raise UpstreamRejected(
                f"the tenant's OpenRouter key cannot be opened: {error}"
            ) from None
        return self.api if key is None else self.api.on_key(SecretStr(key))


def callback_url(public_url: str | None) -> str | None:
    """The `callback_url` sent with each upstream batch (None: polling only)."""
    return public_url.rstrip("/") + CALLBACK_PATH if public_url else None
