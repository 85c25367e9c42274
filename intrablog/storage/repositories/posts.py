"""Posts: writing them and the listings (timelines) that read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import BigInteger, Integer, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import AuthorView, NewPost, PageRequest, Post, User
from intrablog.errors import Conflict, NotFound
from intrablog.storage.models import (
    ChannelFollowRow,
    ChannelRow,
    PostLinkRow,
    PostMentionRow,
    PostRow,
    PostTagRow,
    UserFollowRow,
    UserRow,
)
from intrablog.storage.repositories.post_loading import IDS_PER_QUERY, load_posts, newest_first, select_posts
from intrablog.storage.sql import AnySelect, without_index
from intrablog.storage.visibility import readable_by, readable_to


class SqlPostRepository:
    """Every listing applies ``readable_by(viewer)`` in its query; none filters in Python after the fact."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, post: NewPost) -> Post:
        """Store a post; mentions are kept only for usernames that exist, in the order written.

        Statements are prebuilt and only the non-empty ones run: a plain post is ONE insert when the caller
        passes the author's and the channel's names (the post service does), every statement being a round
        trip (PostgreSQL) or a hand-off to aiosqlite's thread (SQLite) on the posting path.
        """
        author, channel_name, mentioned = await self._resolve(post)
        stored_mentions = [username for username in post.mentions if username in mentioned]
        try:
            await self._session.execute(
                _INSERT_POST,
                {
                    "id": post.id,
                    "author_id": post.author_id,
                    "channel_id": post.channel_id,
                    "text": post.text,
                    "in_reply_to": post.in_reply_to,
                    "thread_root": post.thread_root,
                    "created_at": post.created_at,
                    "requires_ack": post.requires_ack,
                    "urgent": post.urgent,
                },
            )
            if stored_mentions:
                await self._session.execute(
                    _INSERT_MENTIONS,
                    [
                        {"post_id": post.id, "user_id": mentioned[username], "position": position}
                        for position, username in enumerate(stored_mentions)
                    ],
                )
            if post.tags:
                await self._session.execute(
                    _INSERT_TAGS,
                    [{"post_id": post.id, "tag": tag, "position": position} for position, tag in enumerate(post.tags)],
                )
            if post.links:
                await self._session.execute(
                    _INSERT_LINKS,
                    [{"post_id": post.id, "position": position, "url": url} for position, url in enumerate(post.links)],
                )
        except IntegrityError as exc:
            # A reused id, a reply to a post that is gone, or an author or channel gone; this transaction cannot
            # go on either way.
            raise Conflict(f"post {post.id} could not be stored: it conflicts with stored data") from exc
        return Post(
            id=post.id,
            author_id=post.author_id,
            author=author,
            channel_id=post.channel_id,
            channel_name=channel_name,
            text=post.text,
            in_reply_to=post.in_reply_to,
            thread_root=post.thread_root,
            created_at=post.created_at,
            edited_at=None,
            deleted_at=None,
            mentions=tuple(stored_mentions),
            tags=tuple(post.tags),
            links=tuple(post.links),
            requires_ack=post.requires_ack,
            urgent=post.urgent,
        )

    async def _resolve(self, post: NewPost) -> tuple[AuthorView, str | None, dict[str, int]]:
        """The author, the channel's name and the ids of mentioned users: what the caller did not pass.

        No query at all for a post without mentions whose author and channel names came along; else one.
        """
        wanted = list(dict.fromkeys(post.mentions))
        known = post.author is not None and (post.channel_id is None or post.channel_name is not None)
        if known and not wanted:
            assert post.author is not None
            return post.author, post.channel_name, {}
        if known:
            assert post.author is not None
            rows = (await self._session.execute(_USERS_NAMED, {"usernames": wanted})).all()
            return post.author, post.channel_name, {row.username: row.id for row in rows}
        who = UserRow.id == post.author_id
        statement = select(
            UserRow.id,
            UserRow.username,
            UserRow.display_name,
            select(ChannelRow.name).where(ChannelRow.id == post.channel_id).scalar_subquery().label("channel_name"),
        ).where(or_(who, UserRow.username.in_(wanted)) if wanted else who)
        rows = (await self._session.execute(statement)).all()
        author = next((row for row in rows if row.id == post.author_id), None)
        if author is None:
            raise NotFound(f"no user with id {post.author_id}")
        channel_name: str | None = author.channel_name
        if post.channel_id is not None and channel_name is None:
            raise NotFound(f"no channel with id {post.channel_id}")
        mentioned = {row.username: row.id for row in rows if row.username in wanted}
        return AuthorView(username=author.username, display_name=author.display_name), channel_name, mentioned

    async def get(self, post_id: int) -> Post | None:
        """The post, deleted or not."""
        posts = await load_posts(self._session, select_posts().where(PostRow.id == post_id))
        return posts[0] if posts else None

    async def get_many(self, post_ids: Sequence[int]) -> list[Post]:
        """The posts that exist among ``post_ids``, deleted or not, in id order."""
        posts: list[Post] = []
        wanted = sorted(set(post_ids))
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            posts += await load_posts(self._session, select_posts().where(PostRow.id.in_(chunk)).order_by(PostRow.id))
        return posts

    async def mark_deleted(self, post_id: int, now: datetime) -> None:
        # The first deletion time stands; deleting again changes nothing.
        await self._session.execute(
            update(PostRow).where(PostRow.id == post_id, PostRow.deleted_at.is_(None)).values(deleted_at=now)
        )

    async def home(self, viewer: User, page: PageRequest) -> list[Post]:
        """The viewer's own posts and those of the channels and people they follow, newest first.

        Fan-out on read, in ONE query: the follow sets are uncorrelated ``IN (subquery)`` filters, which
        PostgreSQL hashes once, so the plan is a backward walk of the posts primary key (ORDER BY id DESC
        LIMIT n) that stops after n matching rows, with no sort and nothing materialised per follower. Its
        cost is proportional to limit / (share of all traffic the viewer follows): a few hundred rows for
        a typical reader at the benchmark's 1,000,000 posts, whatever the table's size. It degrades for a
        reader who follows almost nothing that is active (the walk reads far back before it has n posts).
        ``bench/home_timeline.py`` and ``bench/fanout.py`` measure it (README, "Capacity"); the statement is
        prebuilt per shape (``_home_statement``). ``without_index`` keeps SQLite from trading that walk for
        a union of index look-ups plus a sort.
        """
        statement = _home_statement(viewer.is_site_admin, page.before is not None, page.limit)
        return await load_posts(self._session, statement, {"viewer_id": viewer.id, "before": page.before})

    async def in_channel(self, channel_id: int, page: PageRequest) -> list[Post]:
        """The channel's posts; the caller has already checked that the reader may read the channel."""
        statement = select_posts().where(PostRow.channel_id == channel_id, PostRow.deleted_at.is_(None))
        return await load_posts(self._session, newest_first(statement, page))

    async def by_author(self, author_id: int, viewer: User, page: PageRequest) -> list[Post]:
        statement = select_posts().where(PostRow.author_id == author_id, readable_by(viewer))
        return await load_posts(self._session, newest_first(statement, page))

    async def mentioning(self, viewer: User, page: PageRequest) -> list[Post]:
        # The join makes posts.id equal to post_mentions.post_id, so the (user_id, post_id) index gives the order.
        statement = (
            select_posts()
            .join(PostMentionRow, PostMentionRow.post_id == PostRow.id)
            .where(PostMentionRow.user_id == viewer.id, readable_by(viewer))
        )
        return await load_posts(self._session, newest_first(statement, page))

    async def thread(self, root_id: int, viewer: User) -> list[Post]:
        """The root and its replies that the viewer may read, oldest first; deleted ones left out."""
        statement = select_posts().where(PostRow.thread_root == root_id, readable_by(viewer)).order_by(PostRow.id)
        return await load_posts(self._session, statement)


# Built once (Core inserts on the tables: no ORM bulk-insert machinery, compiled once per backend).
_INSERT_POST = insert(cast(Table, PostRow.__table__))
_INSERT_MENTIONS = insert(cast(Table, PostMentionRow.__table__))
_INSERT_TAGS = insert(cast(Table, PostTagRow.__table__))
_INSERT_LINKS = insert(cast(Table, PostLinkRow.__table__))
_USERS_NAMED = select(UserRow.id, UserRow.username).where(UserRow.username.in_(bindparam("usernames", expanding=True)))


@lru_cache(maxsize=256)
def _home_statement(site_admin: bool, paged: bool, limit: int) -> AnySelect:
    """The home query for one shape of request, built once (the viewer and the cursor are parameters).

    Every page view runs it: building the statement and its cache key anew each time cost more than the
    database's work. The limit stays a literal, so PostgreSQL plans the walk knowing where it stops.
    """
    viewer_id = bindparam("viewer_id", type_=Integer())
    followed_channels = select(ChannelFollowRow.channel_id).where(ChannelFollowRow.follower_id == viewer_id)
    followed_people = select(UserFollowRow.user_id).where(UserFollowRow.follower_id == viewer_id)
    author_id, channel_id = without_index(PostRow.author_id), without_index(PostRow.channel_id)
    statement = select_posts().where(
        readable_to(viewer_id, site_admin),
        or_(author_id == viewer_id, channel_id.in_(followed_channels), author_id.in_(followed_people)),
    )
    if paged:
        statement = statement.where(PostRow.id < bindparam("before", type_=BigInteger()))
    return statement.order_by(PostRow.id.desc()).limit(limit)
