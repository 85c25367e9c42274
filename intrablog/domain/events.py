"""Domain events, published by the services after their transaction commits."""

from __future__ import annotations

from dataclasses import dataclass

from intrablog.domain.directory import SyncReport
from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Channel, Post, Role


@dataclass(frozen=True)
class PostCreated:
    post: Post


@dataclass(frozen=True)
class PostDeleted:
    post_id: int
    author_id: int
    channel_id: int | None
    deleted_by: int


@dataclass(frozen=True)
class ChannelCreated:
    channel: Channel


@dataclass(frozen=True)
class Followed:
    follower_id: int
    channel_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Unfollowed:
    follower_id: int
    channel_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class MembershipChanged:
    channel_id: int
    user_id: int
    # None when the membership ended.
    role: Role | None


@dataclass(frozen=True)
class SignedIn:
    user_id: int


@dataclass(frozen=True)
class DirectMessageSent:
    # Live views may show it to its two people only; it never enters a timeline, feed or search.
    message: DirectMessage


@dataclass(frozen=True)
class DirectorySynced:
    """A directory sync ended, successfully or not (``report.ok``)."""

    report: SyncReport


DomainEvent = (
    PostCreated
    | PostDeleted
    | ChannelCreated
    | Followed
    | Unfollowed
    | MembershipChanged
    | SignedIn
    | DirectMessageSent
    | DirectorySynced
)
