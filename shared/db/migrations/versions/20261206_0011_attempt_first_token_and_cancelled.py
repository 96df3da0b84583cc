"""attempts keep a streamed call's time to first token, and may end cancelled

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "outcome IN ('succeeded', 'retryable', 'permanent', 'started', 'interrupted')"
)
_AFTER = (
    "outcome IN ('succeeded', 'retryable', 'permanent', 'started', 'interrupted',"
    " 'cancelled')"
)


def upgrade() -> None:
    op.add_column("attempts", sa.Column("first_token_ms", sa.Integer(), nullable=True))
    op.drop_constraint(op.f("ck_attempts_outcome"), "attempts", type_="check")
    op.create_check_constraint(op.f("ck_attempts_outcome"), "attempts", _AFTER)


def downgrade() -> None:
    # A cancelled call is a failed one to a schema that does not know the word.
    op.execute("UPDATE attempts SET outcome = 'permanent' WHERE outcome = 'cancelled'")
    op.drop_constraint(op.f("ck_attempts_outcome"), "attempts", type_="check")
    op.create_check_constraint(op.f("ck_attempts_outcome"), "attempts", _BEFORE)
    op.drop_column("attempts", "first_token_ms")
