"""Expanding one outbox item into its deliveries: ONE ``INSERT … SELECT … ON CONFLICT DO NOTHING``.

Whatever the audience (10,000 people for an announcement), the database builds the rows itself: nothing is
read into Python per recipient, and the statement count per item is constant. The candidates of every reason
are a ``UNION ALL``; grouping by person keeps the strongest reason as the smallest rank, the ranks taken from
``domain.im.REASONS_STRONGEST_FIRST`` so that SQL and ``strongest()`` agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    String,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from intrablog.domain.im import REASONS_STRONGEST_FIRST, DeliveryReason, DeliveryState, DirectMessage, PostAudience
from intrablog.storage.models import (
    ChannelFollowRow,
    DeliveryRow,
    MembershipRow,
    PostMentionRow,
    TrackedWordRow,
    UserFollowRow,
    UserRow,
)
from intrablog.storage.sql import AnySelect, conflict_insert
from intrablog.storage.types import UTCDateTime

RANK = {reason: rank for rank, reason in enumerate(REASONS_STRONGEST_FIRST)}
# What the global "off" does not silence: announcements, urgent or not, and their reminders. Expansion and
# the send-time check (deliveries.py) both read it.
UNSILENCED = (DeliveryReason.ANNOUNCEMENT, DeliveryReason.URGENT, DeliveryReason.REMINDER)
_INSERTED_COLUMNS = ["recipient_id", "post_id", "message_id", "reason", "state", "origin_id", "created_at"]


def _rank(reason: DeliveryReason) -> ColumnElement[int]:
    # Inlined, not bound: PostgreSQL cannot type a bare parameter in a UNION's select list.
    return literal_column(str(RANK[reason]), Integer).label("rank")


def _candidates(audience: PostAudience) -> CompoundSelect[*tuple[Any, ...]]:
    """(user_id, rank) for every reason that applies to someone; the same person may appear several times."""
    parts: list[AnySelect] = []
    if audience.announcement:
        # Everyone: an announcement channel has every active user as member and follower, including those
        # who signed in before it was created, and "off" does not silence it.
        reason = DeliveryReason.URGENT if audience.urgent else DeliveryReason.ANNOUNCEMENT
        parts.append(select(UserRow.id.label("user_id"), _rank(reason)))
    elif audience.channel_id is not None:
        parts.append(
            select(ChannelFollowRow.follower_id.label("user_id"), _rank(DeliveryReason.CHANNEL)).where(
                ChannelFollowRow.channel_id == audience.channel_id, ChannelFollowRow.im_delivery
            )
        )
    parts.append(
        select(UserFollowRow.follower_id.label("user_id"), _rank(DeliveryReason.PERSON)).where(
            UserFollowRow.user_id == audience.author_id, UserFollowRow.im_delivery
        )
    )
    parts.append(
        select(PostMentionRow.user_id.label("user_id"), _rank(DeliveryReason.MENTION)).where(
            PostMentionRow.post_id == audience.post_id
        )
    )
    if audience.words:
        parts.append(
            select(TrackedWordRow.user_id.label("user_id"), _rank(DeliveryReason.TRACK)).where(
                TrackedWordRow.word.in_(sorted(audience.words))
            )
        )
    return union_all(*parts)


def _reason_of(rank: ColumnElement[Any]) -> ColumnElement[str]:
    return case({RANK[reason]: literal(reason.value, String) for reason in REASONS_STRONGEST_FIRST}, value=rank)


def post_deliveries(dialect_name: str, audience: PostAudience, now: datetime) -> Any:
    """The INSERT that queues ``audience``'s post for each person in it, once, with their strongest reason."""
    candidates = _candidates(audience).subquery("candidates")
    conditions: list[ColumnElement[bool]] = [
        UserRow.active == true(),
        UserRow.xmpp_address.is_not(None),
        # Echo suppression: whichever door the post came through, its author never gets it on IM.
        UserRow.id != audience.author_id,
        # The global "off" silences everything except announcements (urgent or not).
        or_(UserRow.im_enabled, candidates.c.rank.in_([RANK[reason] for reason in UNSILENCED])),
    ]
    if audience.members_only:
        # The same rule as storage's readable_by: a private channel's posts are for members and site admins.
        members = select(MembershipRow.user_id).where(MembershipRow.channel_id == audience.channel_id)
        conditions.append(or_(UserRow.is_site_admin, UserRow.id.in_(members)))
    recipients = (
        select(
            candidates.c.user_id,
            literal(audience.post_id, BigInteger),
            literal(None, BigInteger),
            _reason_of(func.min(candidates.c.rank)),
            literal(DeliveryState.PENDING.value, String),
            literal(audience.origin_id, String),
            literal(now, UTCDateTime()),
        )
        .join(UserRow, UserRow.id == candidates.c.user_id)
        .where(*conditions)
        .group_by(candidates.c.user_id)
    )
    return _insert_ignoring_duplicates(dialect_name, recipients)


def message_delivery(dialect_name: str, message: DirectMessage, origin_id: str, now: datetime) -> Any:
    """The INSERT that queues a direct message for its recipient, if they can receive IM now."""
    recipient = select(
        UserRow.id,
        literal(None, BigInteger),
        literal(message.id, BigInteger),
        literal(DeliveryReason.DIRECT.value, String),
        literal(DeliveryState.PENDING.value, String),
        literal(origin_id, String),
        literal(now, UTCDateTime()),
    ).where(
        UserRow.id == message.recipient_id,
        UserRow.id != message.sender_id,
        UserRow.active == true(),
        UserRow.xmpp_address.is_not(None),
        UserRow.im_enabled,
    )
    return _insert_ignoring_duplicates(dialect_name, recipient)


def reminder_deliveries(
    dialect_name: str, post_id: int, pending: Sequence[ColumnElement[bool]], origin_id: str, now: datetime
) -> Any:
    """The INSERT that queues an announcement's reminder for the people ``pending`` selects (those who have
    not acknowledged it) who have an IM address.

    Like the announcement itself: whatever their IM switches (the reminder is part of the announcement);
    presence decides at send time.
    """
    recipients = select(
        UserRow.id,
        literal(post_id, BigInteger),
        literal(None, BigInteger),
        literal(DeliveryReason.REMINDER.value, String),
        literal(DeliveryState.PENDING.value, String),
        literal(origin_id, String),
        literal(now, UTCDateTime()),
    ).where(*pending, UserRow.xmpp_address.is_not(None))
    return _insert_ignoring_duplicates(dialect_name, recipients)


def _insert_ignoring_duplicates(dialect_name: str, rows: AnySelect) -> Any:
    # Every SELECT here has a WHERE clause: SQLite needs one before ON CONFLICT in INSERT … SELECT, or it
    # may read the ON as a join constraint.
    return (
        conflict_insert(dialect_name, DeliveryRow)
        .from_select(_INSERTED_COLUMNS, rows)
        .on_conflict_do_nothing(index_elements=[DeliveryRow.recipient_id, DeliveryRow.origin_id])
    )
