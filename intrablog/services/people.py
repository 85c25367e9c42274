"""People: profiles mirrored from the directory, and following colleagues."""

from __future__ import annotations

from dataclasses import dataclass

from intrablog.domain.events import Followed, Unfollowed
from intrablog.domain.model import User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Invalid, NotFound
from intrablog.services.context import ServiceContext


@dataclass(frozen=True)
class Profile:
    user: User
    followers: int
    following: int
    followed_by_me: bool


class PeopleService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def profile(self, viewer: User, username: str) -> Profile:
        async with self._ctx.database.unit_of_work() as uow:
            user = await user_or_404(uow, username)
            return Profile(
                user=user,
                followers=await uow.users.follower_count(user.id),
                following=await uow.users.following_count(user.id),
                followed_by_me=await uow.follows.follows_user(viewer.id, user.id),
            )

    async def follow_user(self, viewer: User, username: str) -> bool:
        """Follow a colleague; True when the follow is new."""
        async with self._ctx.database.unit_of_work() as uow:
            target = await user_or_404(uow, username)
            if target.id == viewer.id:
                raise Invalid("username", "you cannot follow yourself")
            created = await uow.follows.follow_user(viewer.id, target.id, self._ctx.clock.now())
            await uow.commit()
        if created:
            await self._ctx.events.publish(Followed(viewer.id, user_id=target.id))
        return created

    async def unfollow_user(self, viewer: User, username: str) -> bool:
        async with self._ctx.database.unit_of_work() as uow:
            target = await user_or_404(uow, username)
            removed = await uow.follows.unfollow_user(viewer.id, target.id)
            await uow.commit()
        if removed:
            await self._ctx.events.publish(Unfollowed(viewer.id, user_id=target.id))
        return removed


async def user_or_404(uow: UnitOfWork, username: str) -> User:
    user = await uow.users.by_username(username.lower())
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user
