"""tenants may carry their own OpenRouter key, sealed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHOLE = "(openrouter_key_sealed IS NULL) = (openrouter_key_label IS NULL)"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("openrouter_key_sealed", sa.Text()))
    op.add_column("tenants", sa.Column("openrouter_key_hint", sa.String(40)))
    op.add_column("tenants", sa.Column("openrouter_key_label", sa.String(32)))
    op.add_column(
        "tenants",
        sa.Column("openrouter_key_set_at", sa.DateTime(timezone=True)),
    )
    op.add_column(
        "tenants", sa.Column("openrouter_key_provisioned_hash", sa.String(100))
    )
    op.add_column(
        "tenants",
        sa.Column("openrouter_key_limit_usd", sa.Numeric(precision=20, scale=12)),
    )
    op.create_check_constraint(
        op.f("ck_tenants_openrouter_key_whole"), "tenants", _WHOLE
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_tenants_openrouter_key_whole"), "tenants", type_="check"
    )
    op.drop_column("tenants", "openrouter_key_limit_usd")
    op.drop_column("tenants", "openrouter_key_provisioned_hash")
    op.drop_column("tenants", "openrouter_key_set_at")
    op.drop_column("tenants", "openrouter_key_label")
    op.drop_column("tenants", "openrouter_key_hint")
    op.drop_column("tenants", "openrouter_key_sealed")
