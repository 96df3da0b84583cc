"""attempts are written before the call: outcomes started and interrupted, latency
unknown until the answer

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "outcome IN ('succeeded', 'retryable', 'permanent')"
_AFTER = (
    "outcome IN ('succeeded', 'retryable', 'permanent', 'started', 'interrupted')"
)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_attempts_outcome"), "attempts", type_="check")
    op.create_check_constraint(op.f("ck_attempts_outcome"), "attempts", _AFTER)
    op.alter_column("attempts", "latency_ms", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        "ix_attempts_started",
        "attempts",
        ["started_at"],
        unique=False,
        postgresql_where=sa.text("outcome = 'started'"),
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_started", table_name="attempts")
    # Calls whose answer never came have no latency to give back: count them as 0.
    op.execute(
        "UPDATE attempts SET outcome = 'retryable', latency_ms = coalesce(latency_ms, 0)"
        " WHERE outcome IN ('started', 'interrupted')"
    )
    op.alter_column(
        "attempts", "latency_ms", existing_type=sa.Integer(), nullable=False
    )
    op.drop_constraint(op.f("ck_attempts_outcome"), "attempts", type_="check")
    op.create_check_constraint(op.f("ck_attempts_outcome"), "attempts", _BEFORE)
