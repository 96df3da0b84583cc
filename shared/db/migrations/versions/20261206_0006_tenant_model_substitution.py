"""tenants choose whether routing may call another model than the one named

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("model_substitution", sa.String(length=20), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("tenants", "model_substitution")
