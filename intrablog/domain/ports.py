"""Ports: what the services need from the outside world. Adapters (storage/, directory/) implement them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from intrablog.domain.events import DomainEvent
from intrablog.domain.model import (
    Channel,
    ChannelKind,
    DirectoryPerson,
    Membership,
    MemberView,
    NewPost,
    PageRequest,
    Post,
    Role,
    Session,
    User,
    Visibility,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Directory(Protocol):
    async def authenticate(self, username: str, password: str) -> DirectoryPerson | None:
        """The person if the password is right; None for a wrong password or unknown user (same answer).

        Raises Unavailable when the directory cannot be reached or does not answer in time.
        """
        ...

    async def ping(self) -> None:
        """Raise Unavailable unless the directory answers."""
        ...


class UserRepository(Protocol):
    async def get(self, user_id: int) -> User | None: ...

    async def by_username(self, username: str) -> User | None: ...

    async def by_usernames(self, usernames: Iterable[str]) -> list[User]: ...

    async def upsert_from_directory(self, person: DirectoryPerson, is_site_admin: bool, now: datetime) -> User:
        """Create or refresh the mirror of a directory entry; marks it active and seen now."""
        ...

    async def follower_count(self, user_id: int) -> int: ...

    async def following_count(self, user_id: int) -> int: ...


class ChannelRepository(Protocol):
    async def get(self, channel_id: int) -> Channel | None: ...

    async def by_name(self, name: str) -> Channel | None: ...

    async def add(
        self,
        name: str,
        title: str,
        description: str,
        kind: ChannelKind,
        visibility: Visibility,
        created_by: int | None,
        now: datetime,
    ) -> Channel:
        """Raises Conflict when the name is taken."""
        ...

    async def visible_to(self, viewer: User) -> list[Channel]:
        """Public channels plus the private ones the viewer belongs to (all for site admins), by name."""
        ...

    async def membership(self, channel_id: int, user_id: int) -> Membership | None: ...

    async def set_membership(self, channel_id: int, user_id: int, role: Role, now: datetime) -> Membership: ...

    async def remove_membership(self, channel_id: int, user_id: int) -> bool: ...

    async def members(self, channel_id: int) -> list[MemberView]: ...

    async def member_count(self, channel_id: int) -> int: ...


class FollowRepository(Protocol):
    async def follow_channel(self, follower_id: int, channel_id: int, now: datetime) -> bool:
        """True when the follow is new."""
        ...

    async def unfollow_channel(self, follower_id: int, channel_id: int) -> bool: ...

    async def follow_user(self, follower_id: int, user_id: int, now: datetime) -> bool: ...

    async def unfollow_user(self, follower_id: int, user_id: int) -> bool: ...

    async def follows_channel(self, follower_id: int, channel_id: int) -> bool: ...

    async def follows_user(self, follower_id: int, user_id: int) -> bool: ...


class PostRepository(Protocol):
    """Every listing applies the viewer's read rights in the query itself (see storage's visibility)."""

    async def add(self, post: NewPost) -> Post: ...

    async def get(self, post_id: int) -> Post | None:
        """The post, deleted or not."""
        ...

    async def mark_deleted(self, post_id: int, now: datetime) -> None: ...

    async def home(self, viewer: User, page: PageRequest) -> list[Post]: ...

    async def in_channel(self, channel_id: int, page: PageRequest) -> list[Post]: ...

    async def by_author(self, author_id: int, viewer: User, page: PageRequest) -> list[Post]: ...

    async def mentioning(self, viewer: User, page: PageRequest) -> list[Post]: ...

    async def thread(self, root_id: int, viewer: User) -> list[Post]:
        """The root and its replies that the viewer may read, oldest first; deleted ones left out."""
        ...


class SessionRepository(Protocol):
    async def add(self, token_hash: str, user_id: int, created_at: datetime, expires_at: datetime) -> None: ...

    async def get(self, token_hash: str, now: datetime) -> Session | None:
        """The live session for this hash (not expired, not revoked), or None."""
        ...

    async def revoke(self, token_hash: str, now: datetime) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls back."""

    users: UserRepository
    channels: ChannelRepository
    follows: FollowRepository
    posts: PostRepository
    sessions: SessionRepository

    async def commit(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Database(Protocol):
    def unit_of_work(self) -> UnitOfWork: ...

    async def ping(self) -> None:
        """Raise Unavailable unless the database answers."""
        ...


class EventPublisher(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...
