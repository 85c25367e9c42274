"""One domain event of each type, with every kind of field filled in (for the event codec and bus tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intrablog.domain.directory import SyncReport
from intrablog.domain.events import (
    AckReminderDue,
    AnnouncementAcknowledged,
    ChannelCreated,
    DirectMessageSent,
    DirectorySynced,
    DomainEvent,
    Followed,
    MembershipChanged,
    PostCreated,
    PostDeleted,
    SignedIn,
    Unfollowed,
)
from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Acknowledgement, AuthorView, Channel, ChannelKind, Post, Role, Visibility

AT = datetime(2025, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
ALICE = AuthorView("alice", "Alice Archer")
BOB = AuthorView("bob", "Bob Baker")


def a_post(text: str = "ship it #release @bob") -> Post:
    return Post(
        id=2**62 + 5,
        author_id=1,
        author=ALICE,
        channel_id=3,
        channel_name="engineering",
        text=text,
        in_reply_to=None,
        thread_root=2**62 + 5,
        created_at=AT,
        edited_at=None,
        deleted_at=AT + timedelta(minutes=1),
        mentions=("bob",),
        tags=("release",),
        links=("https://example.com/a?b=1",),
        requires_ack=True,
        urgent=False,
    )


ONE_OF_EACH: list[DomainEvent] = [
    PostCreated(a_post()),
    PostDeleted(post_id=9, author_id=1, channel_id=None, deleted_by=2),
    ChannelCreated(Channel(4, "launch", "Launch", "Ship it", ChannelKind.PROJECT, Visibility.PRIVATE, AT, None)),
    Followed(follower_id=2, channel_id=3),
    Unfollowed(follower_id=2, user_id=1),
    MembershipChanged(channel_id=3, user_id=2, role=Role.POSTER),
    MembershipChanged(channel_id=3, user_id=2, role=None),
    SignedIn(user_id=7),
    DirectMessageSent(DirectMessage(11, ALICE, 1, BOB, 2, "lunch? ünïcödé ✓", AT)),
    DirectorySynced(SyncReport(ok=False, started_at=AT, finished_at=AT, people=3, error="directory down")),
    AnnouncementAcknowledged(Acknowledgement(2**62 + 5, "bob", "Bob Baker", None, AT, "im"), user_id=2, author_id=1),
    AckReminderDue(post_id=2**62 + 5, user_ids=(2, 3, 10_000)),
]
