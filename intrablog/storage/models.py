"""The relational schema. alembic/versions must describe exactly this (tests/test_migrations.py checks it).

The classes are schema only: repositories select columns and build the domain dataclasses themselves, so no
ORM object (and no lazy load) ever leaves storage, and the identity map never serves a stale row after a
Core upsert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from intrablog.storage.types import UTCDateTime

# Deterministic constraint names: migrations can drop/alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CHANNEL_KINDS = ("team", "project", "announcement")
VISIBILITIES = ("public", "private")
ROLES = ("member", "poster", "admin")
MEMBERSHIP_SOURCES = ("manual", "group")
OUTBOX_KINDS = ("post", "direct_message")
DELIVERY_REASONS = ("channel", "person", "mention", "track", "direct", "announcement", "urgent", "reminder")
ACK_DOORS = ("web", "im")
DELIVERY_STATES = ("pending", "held", "sent", "summarised", "dropped")
GROUP_KINDS = ("member_dn", "member_uid")
# An outbox row or a delivery is about exactly one post or one direct message.
ONE_ITEM = "(post_id IS NULL) <> (message_id IS NULL)"


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(256), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    # Indexed, not unique: the directory may hand an address to someone else before the old holder's
    # mirror is refreshed, and a sign-in must not fail on that.
    xmpp_address: Mapped[str | None] = mapped_column(String(320), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    is_site_admin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    last_seen_in_directory: Mapped[datetime | None]
    # The global IM switch (``on`` / ``off``); per-follow switches are the follows' ``im_delivery``.
    im_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true())
    # From the directory attribute ``ldap.attributes.department``: the acknowledgement report groups by it.
    department: Mapped[str | None] = mapped_column(String(256))


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (_one_of("kind", CHANNEL_KINDS), _one_of("visibility", VISIBILITIES))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    visibility: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MembershipRow(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        _one_of("role", ROLES),
        _one_of("source", MEMBERSHIP_SOURCES),
        # "Which channels is this person in": visibility checks and the channel list.
        Index(None, "user_id", "channel_id"),
    )

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    # "group": a bound directory group carries it (the sync adds and removes it); "manual": everything else.
    source: Mapped[str] = mapped_column(String(16), server_default="manual")


class ChannelGroupBindingRow(Base):
    """A directory group bound to a channel: its members hold ``role`` there (applied by the sync)."""

    __tablename__ = "channel_group_bindings"
    __table_args__ = (_one_of("role", ROLES),)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    # The group's name (cn) or DN, lower-cased; matched against the synced groups at each sync, so a group
    # may be bound before it exists.
    group_ref: Mapped[str] = mapped_column(String(1024), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class ChannelFollowRow(Base):
    __tablename__ = "channel_follows"
    # The primary key serves "what does X follow"; this serves "who follows channel C" (fan-out, IM).
    __table_args__ = (Index(None, "channel_id", "follower_id"),)

    follower_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime]
    im_delivery: Mapped[bool] = mapped_column(Boolean, server_default=true())


class UserFollowRow(Base):
    __tablename__ = "user_follows"
    __table_args__ = (Index(None, "user_id", "follower_id"),)

    follower_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime]
    im_delivery: Mapped[bool] = mapped_column(Boolean, server_default=true())


class PostRow(Base):
    __tablename__ = "posts"
    # Every listing is "newest first by id" within one of these prefixes, so each is an index range walk.
    __table_args__ = (
        Index(None, "channel_id", "id"),
        Index(None, "author_id", "id"),
        Index(None, "thread_root", "id"),
    )

    # Generated by the application (intrablog.domain.ids): time-sortable, so id order is time order.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    text: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("posts.id"))
    # No foreign key: a root names itself, and the root row does not exist yet while it is being inserted.
    thread_root: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # Announcements only: everyone is asked to acknowledge it; urgent ones get through "do not disturb".
    requires_ack: Mapped[bool] = mapped_column(Boolean, server_default=false())
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=false())


class AcknowledgementRow(Base):
    """Someone confirmed they read an announcement that asked for it, and through which door."""

    __tablename__ = "acknowledgements"
    __table_args__ = (_one_of("via", ACK_DOORS), Index(None, "user_id", "post_id"))

    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(8))


class AckReminderRow(Base):
    """The one reminder round of an announcement: written when it went out, so it goes out once."""

    __tablename__ = "ack_reminders"

    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    sent_at: Mapped[datetime]
    # How many people were reminded (those who had not acknowledged then).
    reminded: Mapped[int] = mapped_column(Integer)


class PostMentionRow(Base):
    __tablename__ = "post_mentions"
    __table_args__ = (Index(None, "user_id", "post_id"),)

    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Order of appearance in the text, so the post reads back its mentions as written.
    position: Mapped[int] = mapped_column(Integer)


class PostTagRow(Base):
    __tablename__ = "post_tags"
    __table_args__ = (Index(None, "tag", "post_id"),)

    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class PostLinkRow(Base):
    __tablename__ = "post_links"

    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)


class SessionRow(Base):
    __tablename__ = "sessions"

    # sha256 hex of the token: a leaked table does not hand out live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DirectMessageRow(Base):
    __tablename__ = "direct_messages"
    # A conversation is two index range walks, one per direction; each also serves "my conversations".
    __table_args__ = (
        Index(None, "sender_id", "recipient_id", "id"),
        Index(None, "recipient_id", "sender_id", "id"),
    )

    # From intrablog.domain.ids like posts: time-sortable, so id order is time order.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class OutboxRow(Base):
    """One row per post or direct message to deliver, written in the transaction that created it."""

    __tablename__ = "outbox"
    __table_args__ = (
        _one_of("kind", OUTBOX_KINDS),
        CheckConstraint(ONE_ITEM, name="one_item"),
        # "Unprocessed, oldest first" is a range walk of the NULL prefix, however many rows were processed.
        Index(None, "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    post_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("direct_messages.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class DeliveryRow(Base):
    """One item for one person on IM, and how far its delivery got."""

    __tablename__ = "deliveries"
    __table_args__ = (
        _one_of("reason", DELIVERY_REASONS),
        _one_of("state", DELIVERY_STATES),
        CheckConstraint(ONE_ITEM, name="one_item"),
        # Expansion and retries insert with ON CONFLICT DO NOTHING on this key: each item reaches a person once.
        UniqueConstraint("recipient_id", "origin_id"),
        # The worker's queue: PENDING in id order.
        Index(None, "state", "id"),
        # One person's HELD (summary) and SENT-without-receipt (resend) rows.
        Index(None, "recipient_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("direct_messages.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    origin_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    receipt_at: Mapped[datetime | None]


class FavouriteRow(Base):
    __tablename__ = "favourites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime]


class TrackedWordRow(Base):
    __tablename__ = "tracked_words"
    # Expansion asks "who tracks any of these words": an index range per word, user ids read from the index.
    __table_args__ = (Index(None, "word", "user_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class DirectoryGroupRow(Base):
    """A group of the directory, as the last complete sync listed it."""

    __tablename__ = "directory_groups"
    __table_args__ = (_one_of("kind", GROUP_KINDS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Lower-cased: DNs compare case-insensitively, and a rename of case is the same group.
    dn: Mapped[str] = mapped_column(String(1024), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))


class GroupMembershipRow(Base):
    __tablename__ = "group_memberships"
    # The primary key serves "who is in group G" (channel bindings); this serves "which groups is X in".
    __table_args__ = (Index(None, "user_id", "group_id"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class SyncRunRow(Base):
    """One directory sync: what it changed, or why it changed nothing."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    deactivated: Mapped[int] = mapped_column(Integer)
    reactivated: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntryRow(Base):
    """Who changed membership, roles or bindings, what admins deleted, how each directory sync ended."""

    __tablename__ = "audit_entries"

    # Autoincrement: entries are read newest first by id, and paged by it.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    # NULL when the system did it (the directory sync); the username is kept for when the actor is gone.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(256))
    # A dotted verb: "membership.added", "role.changed", "binding.added", "post.deleted", "sync.finished"...
    action: Mapped[str] = mapped_column(String(64), index=True)
    # What it was done to, in words a reader knows: "channel engineering", "user bob", "post 123".
    subject: Mapped[str] = mapped_column(String(512))
    # The rest as a JSON object (role before/after, counts of a sync, the error of a failed one).
    details: Mapped[str] = mapped_column(Text, server_default="{}")
