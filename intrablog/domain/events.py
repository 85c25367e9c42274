"""Domain events, published by the services after their transaction commits."""

from __future__ import annotations

from dataclasses import dataclass

from intrablog.domain.directory import SyncReport
from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Acknowledgement, Channel, Post, Role


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


@dataclass(frozen=True)
class AnnouncementAcknowledged:
    """Someone acknowledged an announcement for the first time (a repeated acknowledgement publishes nothing)."""

    acknowledgement: Acknowledgement
    user_id: int
    author_id: int


@dataclass(frozen=True)
class AckReminderDue:
    """The one reminder round of an announcement went out: these people had not acknowledged it.

    IM reminders are deliveries already; the web's live stream tells these people's open pages.
    """

    post_id: int
    user_ids: tuple[int, ...]


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
    | AnnouncementAcknowledged
    | AckReminderDue
)
