"""upstream_batches: the Batch API batches that carry discount-lane jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_batches",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("upstream_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("usage", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=12), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("results_stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_upstream_batches_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_upstream_batches_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_batches")),
        sa.UniqueConstraint("upstream_id", name=op.f("uq_upstream_batches_upstream_id")),
    )
    op.create_index(
        op.f("ix_upstream_batches_batch_id"), "upstream_batches", ["batch_id"]
    )
    op.create_index(
        "ix_upstream_batches_open",
        "upstream_batches",
        ["status", "next_poll_at"],
        postgresql_where=sa.text("results_stored_at IS NULL"),
    )
    for table in ("jobs", "attempts"):
        op.add_column(table, sa.Column("upstream_batch_id", sa.UUID(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_upstream_batch_id_upstream_batches"),
            table,
            "upstream_batches",
            ["upstream_batch_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_jobs_upstream_batch_id"), "jobs", ["upstream_batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_upstream_batch_id"), table_name="jobs")
    for table in ("attempts", "jobs"):
        op.drop_constraint(
            op.f(f"fk_{table}_upstream_batch_id_upstream_batches"),
            table,
            type_="foreignkey",
        )
        op.drop_column(table, "upstream_batch_id")
    op.drop_index("ix_upstream_batches_open", table_name="upstream_batches")
    op.drop_index(op.f("ix_upstream_batches_batch_id"), table_name="upstream_batches")
    op.drop_table("upstream_batches")
