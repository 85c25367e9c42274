"""The product's nouns: people, channels, memberships, posts. Plain data, no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

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
    # What a reader sees of the author and the channel, when the caller has just read them in the same unit
    # of work (the post service has); left out, storage reads them (and says NotFound if either is gone).
    author: AuthorView | None = None
    channel_name: str | None = None


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


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who changed membership, roles or bindings, deleted a post, or ran a sync."""

    id: int
    at: datetime
    # The username of who did it; None when the system did (the directory sync, sign-in from groups).
    actor: str | None
    # A dotted verb: "membership.added", "role.changed", "binding.removed", "post.deleted", "sync.finished"...
    action: str
    # What it was done to, in words a reader knows: "channel engineering", "post 123", "directory".
    subject: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Acknowledgement:
    """Someone confirmed they read an announcement that asked for it; ``via`` is the door: "web" or "im"."""

    post_id: int
    username: str
    display_name: str
    department: str | None
    at: datetime
    via: str


@dataclass(frozen=True)
class PendingAcknowledgement:
    """Someone asked to acknowledge an announcement who has not yet."""

    username: str
    display_name: str
    department: str | None


@dataclass(frozen=True)
class AckReport:
    """Who acknowledged an announcement and who not yet, as its author and the channel's posters see it."""

    post: Post
    acknowledged: list[Acknowledgement]  # oldest first
    pending: list[PendingAcknowledgement]  # by department (none last), then username
    # (department or "(none)", acknowledged, pending), by department with "(none)" last.
    by_department: list[tuple[str, int, int]]
