"""Channels bound to directory groups, and where a membership came from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_group_bindings",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("group_ref", sa.String(1024), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('member', 'poster', 'admin')", name=op.f("ck_channel_group_bindings_role")),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_group_bindings_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", "group_ref", name=op.f("pk_channel_group_bindings")),
    )
    # Every existing membership was made by hand (or by the config at sign-in): "manual".
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("source", sa.String(16), server_default="manual", nullable=False))
        batch.create_check_constraint("source", "source IN ('manual', 'group')")


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_constraint(op.f("ck_memberships_source"), type_="check")
        batch.drop_column("source")
    op.drop_table("channel_group_bindings")
