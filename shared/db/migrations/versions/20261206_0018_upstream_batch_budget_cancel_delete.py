"""upstream batches keep their budget reservation, a 402, the cancel and the delete

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "upstream_batches",
        sa.Column("reserved_usd", sa.Numeric(20, 12), nullable=True),
    )
    op.add_column(
        "upstream_batches", sa.Column("budget_month", sa.String(7), nullable=True)
    )
    op.add_column(
        "upstream_batches",
        sa.Column("cancel_sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "upstream_batches",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "upstream_batches",
        sa.Column("payment_required_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for column in ("payment_required_at", "deleted_at", "cancel_sent_at", "budget_month", "reserved_usd"):
        op.drop_column("upstream_batches", column)
