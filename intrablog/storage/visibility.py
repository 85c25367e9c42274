"""Who may read which post, as SQL. The only place storage decides read rights for listings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from intrablog.domain.model import User, Visibility
from intrablog.storage.models import ChannelRow, MembershipRow, PostRow
from intrablog.storage.sql import without_index


def readable_by(viewer: User) -> ColumnElement[bool]:
    """Posts the viewer may see in a listing: not deleted, and in a place the viewer may read.

    A personal update (no channel) and a post in a public channel are readable by everyone; a post in a
    private channel only by its members and site admins. The predicate stands on ``posts`` alone (the channel
    tests are uncorrelated ``IN`` subqueries, each evaluated once per query into a small hash set), so any
    query may add it whatever it joins, and PostgreSQL can still walk an index in id order under it.
    """
    return readable_to(viewer.id, viewer.is_site_admin)


def readable_to(viewer_id: int | ColumnElement[Any], is_site_admin: bool) -> ColumnElement[bool]:
    """``readable_by`` for a viewer given by id, which may be a bound parameter (for prebuilt statements)."""
    not_deleted = PostRow.deleted_at.is_(None)
    if is_site_admin:
        return not_deleted
    # A filter, not an access path: each listing chooses its index by what it lists (author, thread, ...).
    channel_id = without_index(PostRow.channel_id)
    return and_(
        not_deleted,
        or_(
            channel_id.is_(None),
            channel_id.in_(select(ChannelRow.id).where(ChannelRow.visibility == Visibility.PUBLIC.value)),
            channel_id.in_(select(MembershipRow.channel_id).where(MembershipRow.user_id == viewer_id)),
        ),
    )
