"""attempts keep every figure OpenRouter reports and where their cost comes from;
the account-level differences per model and day

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = sa.Numeric(20, 12)
_SOURCES = (
    "cost_source IN ('reported', 'estimated', 'reconciled', 'attributed',"
    " 'unbilled', 'unknown')"
)


def upgrade() -> None:
    for name, kind in (
        ("cached_tokens", sa.Integer()),
        ("cache_write_tokens", sa.Integer()),
        ("reasoning_tokens", sa.Integer()),
        ("is_byok", sa.Boolean()),
        ("upstream_inference_cost", _MONEY),
        ("cost_source", sa.String(length=16)),
        ("cost_note", sa.Text()),
        ("cost_check_at", sa.DateTime(timezone=True)),
    ):
        op.add_column("attempts", sa.Column(name, kind, nullable=True))
    op.add_column(
        "attempts",
        sa.Column("cost_checks", sa.Integer(), server_default="0", nullable=False),
    )
    # Rows written before: a cost they hold was reported; one they lack is unknown.
    op.execute(
        "UPDATE attempts SET cost_source = CASE WHEN cost_usd IS NOT NULL"
        " THEN 'reported' ELSE 'unknown' END, cost_note = CASE WHEN cost_usd IS NULL"
        " THEN 'recorded before the ledger kept estimates' END"
        " WHERE outcome <> 'started'"
    )
    op.create_check_constraint(op.f("ck_attempts_cost_source"), "attempts", _SOURCES)
    op.create_check_constraint(
        op.f("ck_attempts_cost_stated"),
        "attempts",
        "cost_usd IS NOT NULL OR cost_source IS NULL OR cost_note IS NOT NULL",
    )
    op.create_index(
        "ix_attempts_cost_due",
        "attempts",
        ["cost_check_at"],
        unique=False,
        postgresql_where=sa.text("cost_source IN ('estimated', 'unknown')"),
    )
    op.create_table(
        "cost_differences",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("upstream_key", sa.String(length=100), nullable=False),
        sa.Column("upstream_usd", _MONEY, nullable=False),
        sa.Column("ledger_usd", _MONEY, nullable=False),
        sa.Column("difference_usd", _MONEY, nullable=False),
        sa.Column("attributed_usd", _MONEY, server_default="0", nullable=False),
        sa.Column(
            "attributed_attempts", sa.Integer(), server_default="0", nullable=False
        ),
        sa.Column("upstream_requests", sa.Integer(), nullable=True),
        sa.Column(
            "ledger_requests", sa.Integer(), server_default="0", nullable=False
        ),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "day", "model", "upstream_key", name=op.f("pk_cost_differences")
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_differences")
    op.drop_index(
        "ix_attempts_cost_due",
        table_name="attempts",
        postgresql_where=sa.text("cost_source IN ('estimated', 'unknown')"),
    )
    op.drop_constraint(op.f("ck_attempts_cost_stated"), "attempts", type_="check")
    op.drop_constraint(op.f("ck_attempts_cost_source"), "attempts", type_="check")
    for name in (
        "cost_checks",
        "cost_check_at",
        "cost_note",
        "cost_source",
        "upstream_inference_cost",
        "is_byok",
        "reasoning_tokens",
        "cache_write_tokens",
        "cached_tokens",
    ):
        op.drop_column("attempts", name)
