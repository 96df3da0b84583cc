"""an append-only audit trail; API keys with scopes, a rate, allowed models and last use;
tenants with allowed models; the budget alerts fired in each period

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The trail is append-only for every role that is not its owner's superuser
# bypass: rows are never changed or removed, by the application or by hand.
_REFUSE = """
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_tenant_id", "audit_events", ["tenant", "id"], unique=False
    )
    op.execute(_REFUSE)
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE "
        "ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE "
        "ON audit_events FOR EACH STATEMENT "
        "EXECUTE FUNCTION audit_events_refuse_change()"
    )
    op.add_column(
        "api_keys",
        sa.Column("scopes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "api_keys",
        sa.Column(
            "allowed_models", postgresql.JSONB(astext_type=sa.Text()), nullable=True
        ),
    )
    op.add_column(
        "api_keys", sa.Column("requests_per_minute", sa.Integer(), nullable=True)
    )
    op.add_column(
        "api_keys",
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "tenants",
        sa.Column(
            "allowed_models", postgresql.JSONB(astext_type=sa.Text()), nullable=True
        ),
    )

    op.create_table(
        "budget_alerts",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("threshold_pct", sa.Integer(), nullable=False),
        sa.Column("budget_usd", sa.Numeric(precision=20, scale=12), nullable=False),
        sa.Column("spent_usd", sa.Numeric(precision=20, scale=12), nullable=False),
        sa.Column(
            "fired_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_budget_alerts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alerts")),
        sa.UniqueConstraint(
            "tenant_id",
            "period",
            "threshold_pct",
            name=op.f("uq_budget_alerts_tenant_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("budget_alerts")
    op.drop_column("tenants", "allowed_models")
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "requests_per_minute")
    op.drop_column("api_keys", "allowed_models")
    op.drop_column("api_keys", "scopes")
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION audit_events_refuse_change()")
