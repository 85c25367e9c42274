"""The product's nouns: people, channels, memberships, posts. Plain data, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class ChannelKind(enum.StrEnum):
    TEAM = "team"
    PROJECT = "project"
    ANNOUNCEMENT = "announcement"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Role(enum.StrEnum):
    """Roles within a channel, weakest first."""

    MEMBER = "member"
    POSTER = "poster"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.MEMBER: 0, Role.POSTER: 1, Role.ADMIN: 2}


class MembershipSource(enum.StrEnum):
    """Where a membership came from: someone joined or was added (manual), or a bound directory group."""

    MANUAL = "manual"
    GROUP = "group"


@dataclass(frozen=True)
class DirectoryPerson:
    """What the directory says about a person at sign-in or sync."""

    username: str
    display_name: str
    email: str | None
    xmpp_address: str | None
    # The directory attribute ``ldap.attributes.department`` (reports group by it); None when absent.
    department: str | None = None


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    email: str | None
    xmpp_address: str | None
    active: bool
    is_site_admin: bool
    created_at: datetime
    last_seen_in_directory: datetime | None
    department: str | None = None


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    title: str
    description: str
    kind: ChannelKind
    visibility: Visibility
    created_at: datetime
    created_by: int | None

    @property
    def is_private(self) -> bool:
        return self.visibility is Visibility.PRIVATE

    @property
    def is_announcement(self) -> bool:
        return self.kind is ChannelKind.ANNOUNCEMENT


@dataclass(frozen=True)
class Membership:
    channel_id: int
    user_id: int
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class MemberView:
    """A member as a channel's member list shows them."""

    username: str
    display_name: str
    role: Role
    since: datetime
    source: MembershipSource = MembershipSource.MANUAL


@dataclass(frozen=True)
class AuthorView:
    username: str
    display_name: str


@dataclass(frozen=True)
class Post:
    id: int
    author_id: int
    author: AuthorView
    channel_id: int | None
    channel_name: str | None
    text: str
    in_reply_to: int | None
    thread_root: int
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    mentions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    # Announcements only: staff are asked to acknowledge it; urgent ones reach people in "do not disturb".
    requires_ack: bool = False
    urgent: bool = False

    @property
    def is_personal_update(self) -> bool:
        return self.channel_id is None


@dataclass(frozen=True)
class NewPost:
    """A post as the services hand it to storage: already validated, parsed and given its id."""

    id: int
    author_id: int
    channel_id: int | None
    text: str
    in_reply_to: int | None
    thread_root: int
    created_at: datetime
    mentions: tuple[str, ...]
    tags: tuple[str, ...]
    links: tuple[str, ...]
    requires_ack: bool = False
    urgent: bool = False


@dataclass(frozen=True)
class Session:
    """A signed-in API token or browser session, as looked up by its hash."""

    token_hash: str
    user: User
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class PageRequest:
    """Cursor pagination: newest first, strictly older than ``before`` when given."""

    limit: int = 20
    before: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    # The cursor for the next (older) page, or None at the end.
    next_before: int | None = None
