"""models keep OpenRouter's output modalities, so routing knows embedding models;
files say where their bytes are (Postgres or an object store)

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "models",
        sa.Column(
            "output_modalities", postgresql.JSONB(astext_type=sa.Text()), nullable=True
        ),
    )
    op.add_column(
        "files",
        sa.Column(
            "storage", sa.String(length=16), server_default="postgres", nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("files", "storage")
    op.drop_column("models", "output_modalities")
