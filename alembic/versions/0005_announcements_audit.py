"""Announcements that ask for acknowledgement, their reminders, departments, and the audit log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REASONS_BEFORE = "'channel', 'person', 'mention', 'track', 'direct', 'announcement', 'urgent'"
_REASONS_AFTER = _REASONS_BEFORE + ", 'reminder'"


def _delivery_reasons(allowed: str) -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(op.f("ck_deliveries_reason"), type_="check")
        batch.create_check_constraint("reason", f"reason IN ({allowed})")


def upgrade() -> None:
    op.add_column("users", sa.Column("department", sa.String(256), nullable=True))
    op.add_column("posts", sa.Column("requires_ack", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("posts", sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "acknowledgements",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.CheckConstraint("via IN ('web', 'im')", name=op.f("ck_acknowledgements_via")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_acknowledgements_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_acknowledgements_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_acknowledgements")),
    )
    op.create_index(op.f("ix_acknowledgements_user_id_post_id"), "acknowledgements", ["user_id", "post_id"])
    op.create_table(
        "ack_reminders",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_ack_reminders_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_ack_reminders")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(256), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("details", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_entries_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index(op.f("ix_audit_entries_action"), "audit_entries", ["action"])
    _delivery_reasons(_REASONS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE reason = 'reminder'")
    _delivery_reasons(_REASONS_BEFORE)
    op.drop_index(op.f("ix_audit_entries_action"), table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_table("ack_reminders")
    op.drop_index(op.f("ix_acknowledgements_user_id_post_id"), table_name="acknowledgements")
    op.drop_table("acknowledgements")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("urgent")
        batch.drop_column("requires_ack")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("department")
