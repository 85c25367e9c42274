"""Who follows which channel and which person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.storage.models import ChannelFollowRow, UserFollowRow
from intrablog.storage.sql import conflict_insert


class SqlFollowRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def follow_channel(self, follower_id: int, channel_id: int, now: datetime) -> bool:
        """True when the follow is new."""
        statement = (
            conflict_insert(self._dialect_name, ChannelFollowRow)
            .values(follower_id=follower_id, channel_id=channel_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[ChannelFollowRow.follower_id, ChannelFollowRow.channel_id])
            .returning(ChannelFollowRow.channel_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def unfollow_channel(self, follower_id: int, channel_id: int) -> bool:
        statement = (
            delete(ChannelFollowRow)
            .where(ChannelFollowRow.follower_id == follower_id, ChannelFollowRow.channel_id == channel_id)
            .returning(ChannelFollowRow.channel_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def follow_user(self, follower_id: int, user_id: int, now: datetime) -> bool:
        """True when the follow is new."""
        statement = (
            conflict_insert(self._dialect_name, UserFollowRow)
            .values(follower_id=follower_id, user_id=user_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[UserFollowRow.follower_id, UserFollowRow.user_id])
            .returning(UserFollowRow.user_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def unfollow_user(self, follower_id: int, user_id: int) -> bool:
        statement = (
            delete(UserFollowRow)
            .where(UserFollowRow.follower_id == follower_id, UserFollowRow.user_id == user_id)
            .returning(UserFollowRow.user_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def follows_channel(self, follower_id: int, channel_id: int) -> bool:
        statement = select(
            exists().where(ChannelFollowRow.follower_id == follower_id, ChannelFollowRow.channel_id == channel_id)
        )
        return bool((await self._session.execute(statement)).scalar_one())

    async def follows_user(self, follower_id: int, user_id: int) -> bool:
        statement = select(exists().where(UserFollowRow.follower_id == follower_id, UserFollowRow.user_id == user_id))
        return bool((await self._session.execute(statement)).scalar_one())
