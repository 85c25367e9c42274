"""Instant-messaging delivery: who gets what on IM, and when presence says to hold it back.

Pure rules shared by the services (which expand the outbox into deliveries) and the bridge (which knows
each person's presence and sends).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from intrablog.domain.model import AuthorView, Post


class Presence(enum.StrEnum):
    """A person's last presence as their IM server told us (XMPP <show/>, or unavailable)."""

    AVAILABLE = "available"
    CHAT = "chat"
    AWAY = "away"
    XA = "xa"
    DND = "dnd"
    UNAVAILABLE = "unavailable"


class DeliveryReason(enum.StrEnum):
    """Why a person receives an item on IM; decides what presence may hold back."""

    CHANNEL = "channel"  # they follow the channel with IM on
    PERSON = "person"  # they follow the author with IM on
    MENTION = "mention"  # the post mentions them
    TRACK = "track"  # the post contains a word they track
    DIRECT = "direct"  # a direct message to them
    ANNOUNCEMENT = "announcement"  # a post in an announcement channel
    URGENT = "urgent"  # an announcement marked urgent


class Decision(enum.StrEnum):
    SEND = "send"
    HOLD = "hold"


_GETS_THROUGH_AWAY = frozenset(
    {DeliveryReason.MENTION, DeliveryReason.DIRECT, DeliveryReason.ANNOUNCEMENT, DeliveryReason.URGENT}
)


def decide(presence: Presence, reason: DeliveryReason) -> Decision:
    """Presence-aware delivery (issue 4, item 8).

    available/chat: everything. away/xa: only mentions, direct messages and announcements. dnd: only urgent
    announcements. unavailable: everything is sent, and the server's offline storage keeps it for login.
    """
    if presence in (Presence.AVAILABLE, Presence.CHAT, Presence.UNAVAILABLE):
        return Decision.SEND
    if presence is Presence.DND:
        return Decision.SEND if reason is DeliveryReason.URGENT else Decision.HOLD
    return Decision.SEND if reason in _GETS_THROUGH_AWAY else Decision.HOLD


def strongest(reasons: set[DeliveryReason]) -> DeliveryReason:
    """When several reasons apply to one recipient, the one that gets through the most presences wins."""
    order = [
        DeliveryReason.URGENT,
        DeliveryReason.DIRECT,
        DeliveryReason.ANNOUNCEMENT,
        DeliveryReason.MENTION,
        DeliveryReason.TRACK,
        DeliveryReason.PERSON,
        DeliveryReason.CHANNEL,
    ]
    return next(reason for reason in order if reason in reasons)


@dataclass(frozen=True)
class DirectMessage:
    """A message from one person to another. Not a post: never in timelines, feeds or search."""

    id: int
    sender: AuthorView
    sender_id: int
    recipient: AuthorView
    recipient_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class ImSubscription:
    kind: str  # "channel" | "person"
    name: str  # channel name, or username
    im_delivery: bool


@dataclass(frozen=True)
class ImSettings:
    im_enabled: bool  # the global on/off
    subscriptions: tuple[ImSubscription, ...]


@dataclass(frozen=True)
class TrackedWord:
    word: str
    created_at: datetime


@dataclass(frozen=True)
class ImStats:
    posts: int
    followers: int
    following_people: int
    following_channels: int
    tracked_words: int
    favourites: int


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # to send (again, after a reconnect, until the server confirms it)
    HELD = "held"  # kept back by presence; summarised when the person is available again
    SENT = "sent"  # the server confirmed it (the iq ping after its batch was answered)
    SUMMARISED = "summarised"  # held, then counted in a summary instead of being sent


def origin_id_for_post(post_id: int) -> str:
    """The stable id (XEP-0359 origin-id) every bridged copy of a post carries."""
    return f"post-{post_id}"


def origin_id_for_message(message_id: int) -> str:
    return f"dm-{message_id}"


@dataclass(frozen=True)
class Delivery:
    """One item for one person on IM: a post or a direct message (exactly one of the two is set)."""

    id: int
    recipient_id: int
    recipient_username: str
    recipient_jid: str
    reason: DeliveryReason
    state: DeliveryState
    origin_id: str
    created_at: datetime
    post: Post | None = None
    direct_message: DirectMessage | None = None
    receipt_at: datetime | None = None
