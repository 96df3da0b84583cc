"""tenant limits and quotas; an index to count a tenant's queued jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 07:32:45.196352
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("limits", postgresql.JSONB(), nullable=True))
    op.create_index(
        "ix_jobs_tenant_queued",
        "jobs",
        ["tenant_id"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_jobs_tenant_queued",
        table_name="jobs",
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.drop_column("tenants", "limits")
