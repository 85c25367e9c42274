"""Reading posts: one query for the posts (with author and channel), one for all their mentions, tags, links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import AuthorView, PageRequest, Post
from intrablog.storage.models import ChannelRow, PostLinkRow, PostMentionRow, PostRow, PostTagRow, UserRow
from intrablog.storage.sql import AnyRow, AnySelect, id_list, in_id_list

# Bound parameters per statement stay far below SQLite's (32,766) and asyncpg's (32,767) limits.
IDS_PER_QUERY = 5_000
_MENTION, _TAG, _LINK = 0, 1, 2


@dataclass
class _Extras:
    mentions: list[tuple[int, str]] = field(default_factory=list)
    tags: list[tuple[int, str]] = field(default_factory=list)
    links: list[tuple[int, str]] = field(default_factory=list)


def select_posts() -> AnySelect:
    """Posts with what a reader sees next to them: the author's names and the channel's name."""
    return (
        select(
            PostRow.id,
            PostRow.author_id,
            PostRow.channel_id,
            PostRow.text,
            PostRow.in_reply_to,
            PostRow.thread_root,
            PostRow.created_at,
            PostRow.edited_at,
            PostRow.deleted_at,
            PostRow.requires_ack,
            PostRow.urgent,
            UserRow.username.label("author_username"),
            UserRow.display_name.label("author_display_name"),
            ChannelRow.name.label("channel_name"),
        )
        .select_from(PostRow)
        .join(UserRow, UserRow.id == PostRow.author_id)
        .outerjoin(ChannelRow, ChannelRow.id == PostRow.channel_id)
    )


def newest_first(statement: AnySelect, page: PageRequest) -> AnySelect:
    """Cursor paging on the time-sortable id: stable while others write, unlike OFFSET."""
    if page.before is not None:
        statement = statement.where(PostRow.id < page.before)
    return statement.order_by(PostRow.id.desc()).limit(page.limit)


async def load_posts(
    session: AsyncSession, statement: AnySelect, parameters: Mapping[str, Any] | None = None
) -> list[Post]:
    """The posts ``statement`` (a ``select_posts()`` query) finds; ``parameters`` for its bound parameters."""
    rows = (await session.execute(statement, parameters)).all()
    extras = await _load_extras(session, [row.id for row in rows])
    return [post_from_row(row, extras.get(row.id)) for row in rows]


def post_from_row(row: AnyRow, extras: _Extras | None) -> Post:
    extras = extras or _Extras()
    return Post(
        id=row.id,
        author_id=row.author_id,
        author=AuthorView(username=row.author_username, display_name=row.author_display_name),
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        text=row.text,
        in_reply_to=row.in_reply_to,
        thread_root=row.thread_root,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
        mentions=_in_order(extras.mentions),
        tags=_in_order(extras.tags),
        links=_in_order(extras.links),
        requires_ack=row.requires_ack,
        urgent=row.urgent,
    )


def _in_order(items: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(value for _, value in sorted(items))


async def _load_extras(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, _Extras]:
    """Mentions, tags and links of many posts in one round trip (per 5,000 posts): no query per post."""
    extras: dict[int, _Extras] = defaultdict(_Extras)
    for start in range(0, len(post_ids), IDS_PER_QUERY):
        chunk = post_ids[start : start + IDS_PER_QUERY]
        for row in await session.execute(_EXTRAS, {"post_ids": chunk}):
            bucket = extras[row.post_id]
            target = bucket.mentions if row.kind == _MENTION else bucket.tags if row.kind == _TAG else bucket.links
            target.append((row.position, row.value))
    return extras


def _extras_query() -> Any:
    """Built once: every page of posts runs it, and building and compiling it cost more than running it."""

    def kind(value: int) -> Any:
        return literal_column(str(value), Integer).label("kind")

    post_ids = id_list("post_ids")
    mentions = (
        select(PostMentionRow.post_id, kind(_MENTION), PostMentionRow.position, UserRow.username.label("value"))
        .join(UserRow, UserRow.id == PostMentionRow.user_id)
        .where(in_id_list(PostMentionRow.post_id, post_ids))
    )
    tags = select(PostTagRow.post_id, kind(_TAG), PostTagRow.position, PostTagRow.tag).where(
        in_id_list(PostTagRow.post_id, post_ids)
    )
    links = select(PostLinkRow.post_id, kind(_LINK), PostLinkRow.position, PostLinkRow.url).where(
        in_id_list(PostLinkRow.post_id, post_ids)
    )
    return union_all(mentions, tags, links)


_EXTRAS = _extras_query()
