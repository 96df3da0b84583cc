"""batches carry OpenAI's fields: endpoint, files, errors and the cancelling state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "'validating', 'in_progress', 'finalizing', 'completed', 'failed', 'cancelled', 'expired'"
_NEW = "'validating', 'in_progress', 'finalizing', 'completed', 'failed', 'cancelling', 'cancelled', 'expired'"


def upgrade() -> None:
    op.add_column(
        "batches",
        sa.Column(
            "endpoint",
            sa.String(length=64),
            server_default="/v1/chat/completions",
            nullable=False,
        ),
    )
    for name in ("input_file_id", "output_file_id", "error_file_id"):
        op.add_column("batches", sa.Column(name, postgresql.UUID(), nullable=True))
    op.add_column(
        "batches",
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "batches",
        sa.Column("cancelling_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.drop_constraint(op.f("ck_batches_status"), "batches", type_="check")
    op.create_check_constraint(op.f("ck_batches_status"), "batches", f"status IN ({_NEW})")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_batches_status"), "batches", type_="check")
    op.create_check_constraint(op.f("ck_batches_status"), "batches", f"status IN ({_OLD})")
    op.drop_column("batches", "cancelling_at")
    op.drop_column("batches", "errors")
    for name in ("error_file_id", "output_file_id", "input_file_id"):
        op.drop_column("batches", name)
    op.drop_column("batches", "endpoint")
