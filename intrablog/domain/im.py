"""Instant-messaging delivery: who gets what on IM, and when presence says to hold it back.

Pure rules shared by the services (which expand the outbox into deliveries) and the bridge (which knows
each person's presence and sends).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from intrablog.domain.model import AuthorView, Channel, Post
from intrablog.domain.rules import CHANNEL_NAME, MAX_USERNAME_CHARS
from intrablog.errors import Invalid


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
    REMINDER = "reminder"  # the one reminder of an announcement they have not acknowledged yet


class Decision(enum.StrEnum):
    SEND = "send"
    HOLD = "hold"


_GETS_THROUGH_AWAY = frozenset(
    {
        DeliveryReason.MENTION,
        DeliveryReason.DIRECT,
        DeliveryReason.ANNOUNCEMENT,
        DeliveryReason.URGENT,
        DeliveryReason.REMINDER,
    }
)


def decide(presence: Presence, reason: DeliveryReason) -> Decision:
    """Presence-aware delivery (issue 4, item 8).

    available/chat: everything. away/xa: only mentions, direct messages and announcements (their reminders
    too). dnd: only urgent announcements. unavailable: everything is sent, and the server's offline storage
    keeps it for login.
    """
    if presence in (Presence.AVAILABLE, Presence.CHAT, Presence.UNAVAILABLE):
        return Decision.SEND
    if presence is Presence.DND:
        return Decision.SEND if reason is DeliveryReason.URGENT else Decision.HOLD
    return Decision.SEND if reason in _GETS_THROUGH_AWAY else Decision.HOLD


# Storage ranks reasons by this order inside its expansion SQL, so SQL and ``strongest`` cannot disagree.
REASONS_STRONGEST_FIRST: tuple[DeliveryReason, ...] = (
    DeliveryReason.URGENT,
    DeliveryReason.DIRECT,
    DeliveryReason.ANNOUNCEMENT,
    DeliveryReason.REMINDER,
    DeliveryReason.MENTION,
    DeliveryReason.TRACK,
    DeliveryReason.PERSON,
    DeliveryReason.CHANNEL,
)


def strongest(reasons: set[DeliveryReason]) -> DeliveryReason:
    """When several reasons apply to one recipient, the one that gets through the most presences wins."""
    return next(reason for reason in REASONS_STRONGEST_FIRST if reason in reasons)


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
    # Never to be sent: the recipient left (inactive, no IM address, IM switched off) or may no longer read
    # the post (deleted, or they left its private channel). Kept, not deleted, so the unique (recipient,
    # origin-id) key still stops a later expansion from queueing it again.
    DROPPED = "dropped"


def origin_id_for_post(post_id: int) -> str:
    """The stable id (XEP-0359 origin-id) every bridged copy of a post carries."""
    return f"post-{post_id}"


def origin_id_for_message(message_id: int) -> str:
    return f"dm-{message_id}"


def origin_id_for_reminder(post_id: int) -> str:
    """A reminder is a message of its own (the announcement's own origin-id was delivered already)."""
    return f"reminder-{post_id}"


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
    sent_at: datetime | None = None


# -- what the IM commands name: a channel or a person ----------------------------------------------------


@dataclass(frozen=True)
class ImTarget:
    kind: Literal["channel", "person"]
    name: str  # a channel name, or a username (both lower-case)


_PERSON_PREFIXES = ("@", "~")


def parse_target(text: str) -> ImTarget:
    """``@bob`` or ``~bob`` is the person bob; anything else must be a channel name (case-insensitive).

    ``~`` is accepted because it is how a person's IM address starts (``~bob@blog.example.com``), and no
    channel name can start with it.
    """
    raw = unicodedata.normalize("NFC", text).strip()
    if not raw:
        raise Invalid("target", "name a channel, or a person as @username")
    if raw.startswith(_PERSON_PREFIXES):
        username = raw[1:].lower()
        if (
            not username
            or len(username) > MAX_USERNAME_CHARS
            or username.startswith(_PERSON_PREFIXES)
            or any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in username)
        ):
            raise Invalid("target", f"{raw!r} is not a person: write @ and a username, e.g. @alice")
        return ImTarget("person", username)
    name = raw.lower()
    if not CHANNEL_NAME.fullmatch(name):
        raise Invalid(
            "target",
            f"{raw!r} is neither a channel name (2-32 of a-z, 0-9 and '-') nor a person (@username)",
        )
    return ImTarget("channel", name)


def bare_jid(jid: str) -> str:
    """The bare JID, lower-cased: what identifies a person whichever client (resource) they write from.

    XMPP compares local part and domain case-insensitively; the resource follows the first '/'.
    """
    return jid.strip().split("/", 1)[0].lower()


# -- tracked words -----------------------------------------------------------------------------------------

MAX_TRACKED_WORDS = 50
MIN_TRACKED_WORD_CHARS = 2
MAX_TRACKED_WORD_CHARS = 64
# A chunk's surrounding punctuation is trimmed at most this far on each side (bounds the work per post).
_MAX_TRIM = 8
_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"\W")


def _normal(text: str) -> str:
    # Lower-casing can leave a string that is no longer NFC (a few compatibility characters); normalise after.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


def clean_tracked_word(word: str) -> str:
    cleaned = _normal(word.strip())
    if not MIN_TRACKED_WORD_CHARS <= len(cleaned) <= MAX_TRACKED_WORD_CHARS:
        raise Invalid("word", f"must be {MIN_TRACKED_WORD_CHARS}-{MAX_TRACKED_WORD_CHARS} characters")
    if any(ch.isspace() for ch in cleaned):
        raise Invalid("word", "must be one word, without spaces")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in cleaned):
        raise Invalid("word", "must not contain control characters")
    return cleaned


def words_in(text: str) -> frozenset[str]:
    """Every form in which a tracked word counts as occurring in ``text`` as a whole word.

    Storage matches tracked words against this set with an indexed ``IN``, so a post costs one look-up
    whatever the number of people tracking words. A word is a run of letters and digits ("deploy" in
    "#deploy," or "re-deploy"), or a space-separated chunk with its surrounding punctuation trimmed, so
    that words with inner punctuation match too ("node.js" in "(node.js)", "c++" in "c++!").
    """
    lowered = _normal(text)
    found = {match.group(0) for match in _WORD.finditer(lowered)}
    for chunk in lowered.split():
        if not _WORD.search(chunk):
            continue
        lead = min(len(chunk) - len(chunk.lstrip(_punctuation(chunk))), _MAX_TRIM)
        trail = min(len(chunk) - len(chunk.rstrip(_punctuation(chunk))), _MAX_TRIM)
        for start in range(lead + 1):
            for end in range(trail + 1):
                found.add(chunk[start : len(chunk) - end])
    return frozenset(word for word in found if MIN_TRACKED_WORD_CHARS <= len(word) <= MAX_TRACKED_WORD_CHARS)


def _punctuation(chunk: str) -> str:
    """The non-word characters of ``chunk``, as a ``str.strip`` argument."""
    return "".join(set(_NOT_WORD.findall(chunk)))


# -- who a post reaches on IM ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostAudience:
    """Who receives a post on IM, in terms storage turns into one set-based INSERT … SELECT.

    Candidates: the channel's followers with IM on (CHANNEL), the author's followers with IM on (PERSON),
    the people it mentions (MENTION), the people tracking one of ``words`` (TRACK); for an announcement,
    every active user (ANNOUNCEMENT, or URGENT when ``urgent``, whatever their IM switches). Then, in every
    case: never the author, only active people with an IM address, IM switched on (announcements excepted),
    and for a private channel only those who may read it (members and site admins). Each person gets one
    delivery, with the strongest of their reasons.
    """

    post_id: int
    author_id: int
    origin_id: str
    channel_id: int | None
    announcement: bool
    members_only: bool
    words: frozenset[str]
    urgent: bool = False


def post_audience(post: Post, channel: Channel | None) -> PostAudience:
    return PostAudience(
        post_id=post.id,
        author_id=post.author_id,
        origin_id=origin_id_for_post(post.id),
        channel_id=post.channel_id,
        announcement=channel is not None and channel.is_announcement,
        members_only=channel is not None and channel.is_private,
        words=words_in(post.text),
        urgent=channel is not None and channel.is_announcement and post.urgent,
    )


# -- the outbox and summaries ------------------------------------------------------------------------------


class OutboxKind(enum.StrEnum):
    POST = "post"
    DIRECT_MESSAGE = "direct_message"


@dataclass(frozen=True)
class OutboxItem:
    """One thing to deliver, written in the transaction that created it; exactly one id is set."""

    id: int
    kind: OutboxKind
    post_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class NewDirectMessage:
    id: int
    sender_id: int
    recipient_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class HeldSummary:
    """What presence held back, told in one line when the person is available again."""

    count: int
    url: str
