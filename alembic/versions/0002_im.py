"""IM: the global IM switch, the outbox, deliveries, direct messages, favourites, tracked words.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_ITEM = "(post_id IS NULL) <> (message_id IS NULL)"


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("users", sa.Column("im_enabled", sa.Boolean(), server_default=sa.true(), nullable=False))
    # Bare JIDs are compared lower-cased from now on (storage writes them so); SQL lower() folds ASCII only,
    # and anything else is rewritten at the person's next sign-in.
    op.execute("UPDATE users SET xmpp_address = lower(xmpp_address) WHERE xmpp_address IS NOT NULL")

    op.create_table(
        "direct_messages",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_direct_messages_sender_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_direct_messages_recipient_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_messages")),
    )
    op.create_index(
        op.f("ix_direct_messages_sender_id_recipient_id_id"), "direct_messages", ["sender_id", "recipient_id", "id"]
    )
    op.create_index(
        op.f("ix_direct_messages_recipient_id_sender_id_id"), "direct_messages", ["recipient_id", "sender_id", "id"]
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        _timestamp("created_at"),
        _timestamp("processed_at", nullable=True),
        sa.CheckConstraint("kind IN ('post', 'direct_message')", name=op.f("ck_outbox_kind")),
        sa.CheckConstraint(ONE_ITEM, name=op.f("ck_outbox_one_item")),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_outbox_post_id_posts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["direct_messages.id"],
            name=op.f("fk_outbox_message_id_direct_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_processed_at_id"), "outbox", ["processed_at", "id"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("origin_id", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("sent_at", nullable=True),
        _timestamp("receipt_at", nullable=True),
        sa.CheckConstraint(
            "reason IN ('channel', 'person', 'mention', 'track', 'direct', 'announcement', 'urgent')",
            name=op.f("ck_deliveries_reason"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'held', 'sent', 'summarised', 'dropped')", name=op.f("ck_deliveries_state")
        ),
        sa.CheckConstraint(ONE_ITEM, name=op.f("ck_deliveries_one_item")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name=op.f("fk_deliveries_recipient_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_deliveries_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["direct_messages.id"],
            name=op.f("fk_deliveries_message_id_direct_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("recipient_id", "origin_id", name=op.f("uq_deliveries_recipient_id_origin_id")),
    )
    op.create_index(op.f("ix_deliveries_state_id"), "deliveries", ["state", "id"])
    op.create_index(op.f("ix_deliveries_recipient_id_state_id"), "deliveries", ["recipient_id", "state", "id"])

    op.create_table(
        "favourites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favourites_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_favourites_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "post_id", name=op.f("pk_favourites")),
    )

    op.create_table(
        "tracked_words",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(64), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tracked_words_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "word", name=op.f("pk_tracked_words")),
    )
    op.create_index(op.f("ix_tracked_words_word_user_id"), "tracked_words", ["word", "user_id"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes with it.
    for table in ("tracked_words", "favourites", "deliveries", "outbox", "direct_messages"):
        op.drop_table(table)
    # SQLite cannot drop a column in place everywhere: batch mode rebuilds the table (a plain ALTER elsewhere).
    with op.batch_alter_table("users") as batch:
        batch.drop_column("im_enabled")
    # The lower-casing of xmpp_address is not undone: the old schema compared addresses as stored, and
    # lower-case bare JIDs are valid there too.
