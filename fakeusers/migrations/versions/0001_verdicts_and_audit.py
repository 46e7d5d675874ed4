"""Verdicts and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("analyst", sa.Text, nullable=False),
        sa.Column("analyst_verified", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("probability", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reverts", sa.Integer, sa.ForeignKey("verdicts.id")),
        sa.CheckConstraint("verdict IN ('fake', 'real', 'revert')", name="verdict_kind"),
    )
    op.create_index("ix_verdicts_user_id", "verdicts", ["user_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_verified", sa.Boolean, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("cost_fp", sa.Float),
        sa.Column("cost_fn", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("count", sa.Integer),
        sa.Column("sha256", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_action", "audit", ["action"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("verdicts")
