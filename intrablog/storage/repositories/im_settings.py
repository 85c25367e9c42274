"""A person's IM settings, favourites, tracked words and the counts the ``stats`` command shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.im import ImStats, ImSubscription, TrackedWord
from intrablog.storage.models import (
    ChannelFollowRow,
    ChannelRow,
    FavouriteRow,
    PostRow,
    TrackedWordRow,
    UserFollowRow,
    UserRow,
)
from intrablog.storage.sql import conflict_insert


class SqlImRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def im_enabled(self, user_id: int) -> bool:
        statement = select(UserRow.im_enabled).where(UserRow.id == user_id)
        return bool((await self._session.execute(statement)).scalar_one_or_none())

    async def set_im_enabled(self, user_id: int, on: bool) -> None:
        await self._session.execute(update(UserRow).where(UserRow.id == user_id).values(im_enabled=on))

    async def set_channel_delivery(self, follower_id: int, channel_id: int, on: bool) -> bool:
        statement = (
            update(ChannelFollowRow)
            .where(ChannelFollowRow.follower_id == follower_id, ChannelFollowRow.channel_id == channel_id)
            .values(im_delivery=on)
            .returning(ChannelFollowRow.channel_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def set_person_delivery(self, follower_id: int, user_id: int, on: bool) -> bool:
        statement = (
            update(UserFollowRow)
            .where(UserFollowRow.follower_id == follower_id, UserFollowRow.user_id == user_id)
            .values(im_delivery=on)
            .returning(UserFollowRow.user_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def subscriptions(self, user_id: int) -> list[ImSubscription]:
        channels = (
            select(ChannelRow.name, ChannelFollowRow.im_delivery)
            .join(ChannelRow, ChannelRow.id == ChannelFollowRow.channel_id)
            .where(ChannelFollowRow.follower_id == user_id)
            .order_by(ChannelRow.name)
        )
        people = (
            select(UserRow.username, UserFollowRow.im_delivery)
            .join(UserRow, UserRow.id == UserFollowRow.user_id)
            .where(UserFollowRow.follower_id == user_id)
            .order_by(UserRow.username)
        )
        found = [ImSubscription("channel", row.name, row.im_delivery) for row in await self._session.execute(channels)]
        found += [
            ImSubscription("person", row.username, row.im_delivery) for row in await self._session.execute(people)
        ]
        return found

    async def add_favourite(self, user_id: int, post_id: int, now: datetime) -> bool:
        statement = (
            conflict_insert(self._dialect_name, FavouriteRow)
            .values(user_id=user_id, post_id=post_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[FavouriteRow.user_id, FavouriteRow.post_id])
            .returning(FavouriteRow.post_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def add_track(self, user_id: int, word: str, now: datetime) -> bool:
        statement = (
            conflict_insert(self._dialect_name, TrackedWordRow)
            .values(user_id=user_id, word=word, created_at=now)
            .on_conflict_do_nothing(index_elements=[TrackedWordRow.user_id, TrackedWordRow.word])
            .returning(TrackedWordRow.word)
        )
        return (await self._session.execute(statement)).first() is not None

    async def remove_track(self, user_id: int, word: str) -> bool:
        statement = (
            delete(TrackedWordRow)
            .where(TrackedWordRow.user_id == user_id, TrackedWordRow.word == word)
            .returning(TrackedWordRow.word)
        )
        return (await self._session.execute(statement)).first() is not None

    async def tracks(self, user_id: int) -> list[TrackedWord]:
        statement = (
            select(TrackedWordRow.word, TrackedWordRow.created_at)
            .where(TrackedWordRow.user_id == user_id)
            .order_by(TrackedWordRow.word)
        )
        return [TrackedWord(row.word, row.created_at) for row in await self._session.execute(statement)]

    async def stats(self, user_id: int) -> ImStats:
        """Six counts in one round trip, each an index range on the person's id."""
        statement = select(
            _count(PostRow.author_id == user_id, PostRow.deleted_at.is_(None)).label("posts"),
            _count(UserFollowRow.user_id == user_id).label("followers"),
            _count(UserFollowRow.follower_id == user_id).label("following_people"),
            _count(ChannelFollowRow.follower_id == user_id).label("following_channels"),
            _count(TrackedWordRow.user_id == user_id).label("tracked_words"),
            _count(FavouriteRow.user_id == user_id).label("favourites"),
        )
        row = (await self._session.execute(statement)).one()
        return ImStats(
            posts=row.posts,
            followers=row.followers,
            following_people=row.following_people,
            following_channels=row.following_channels,
            tracked_words=row.tracked_words,
            favourites=row.favourites,
        )


def _count(*where: ColumnElement[bool]) -> ScalarSelect[int]:
    # The table comes from the conditions' columns.
    return select(func.count()).where(*where).scalar_subquery()
