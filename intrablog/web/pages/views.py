"""What a template shows of a post, and the one-post HTML fragment the live stream pushes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import jinja2
from markupsafe import Markup

from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Post
from intrablog.web.text import excerpt, render_post_text

POST_FRAGMENT_TEMPLATE = "post_fragment.html"
MESSAGE_FRAGMENT_TEMPLATE = "message_fragment.html"


@dataclass(frozen=True)
class AckMark:
    """Where the reader stands with an announcement that asks for acknowledgement."""

    # "waiting" (the Acknowledge button), "acknowledged" (with ``at``), or "author" (asked it; nothing to do).
    state: Literal["waiting", "acknowledged", "author"]
    at: datetime | None = None
    # The author, the channel's posters and admins, site admins: a link to the report.
    can_report: bool = False


@dataclass(frozen=True)
class PostCard:
    id: str
    author_username: str
    author_name: str
    channel: str | None
    in_reply_to: str | None
    thread_root: str
    html: Markup
    summary: str
    created_iso: str
    created_exact: str
    created_relative: str
    can_delete: bool
    requires_ack: bool = False
    urgent: bool = False
    # "" for a post that asks for no acknowledgement; else AckMark.state.
    ack_state: str = ""
    acked_iso: str = ""
    acked_exact: str = ""
    acked_relative: str = ""
    can_report: bool = False

    @property
    def is_reply(self) -> bool:
        return self.in_reply_to is not None


def relative_time(moment: datetime, now: datetime) -> str:
    """Relative ("5 min ago"); the exact time goes in the title, and the page's script keeps this fresh."""
    seconds = (now - moment).total_seconds()
    if seconds < 45:
        return "just now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = round(seconds / 3600)
    if hours < 24:
        return f"{hours} h ago"
    days = round(seconds / 86400)
    if days < 7:
        return f"{days} d ago"
    if moment.year == now.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b} {moment.year}"


def exact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def post_card(post: Post, can_delete: bool, now: datetime, mark: AckMark | None = None) -> PostCard:
    if mark is None and post.requires_ack:
        # Nothing known about the reader (a live push renders once for everyone): a new announcement waits
        # for everyone but its author, whose page's script hides the button.
        mark = AckMark("waiting")
    acked = mark.at if mark is not None and mark.state == "acknowledged" else None
    return PostCard(
        id=str(post.id),
        author_username=post.author.username,
        author_name=post.author.display_name or post.author.username,
        channel=post.channel_name,
        in_reply_to=str(post.in_reply_to) if post.in_reply_to is not None else None,
        thread_root=str(post.thread_root),
        html=render_post_text(post.text, post.mentions),
        summary=excerpt(post.text),
        created_iso=post.created_at.astimezone(UTC).isoformat(),
        created_exact=exact_time(post.created_at),
        created_relative=relative_time(post.created_at, now),
        can_delete=can_delete,
        requires_ack=post.requires_ack,
        urgent=post.urgent,
        ack_state=mark.state if post.requires_ack and mark is not None else "",
        acked_iso=acked.astimezone(UTC).isoformat() if acked else "",
        acked_exact=exact_time(acked) if acked else "",
        acked_relative=relative_time(acked, now) if acked else "",
        can_report=post.requires_ack and mark is not None and mark.can_report,
    )


def post_cards(
    posts: Iterable[Post],
    deletable: set[int],
    now: datetime | None = None,
    marks: Mapping[int, AckMark] | None = None,
) -> list[PostCard]:
    moment = now or datetime.now(UTC)
    known = marks or {}
    return [post_card(post, post.id in deletable, moment, known.get(post.id)) for post in posts]


def post_fragment(env: jinja2.Environment, post: Post, can_delete: bool) -> str:
    """One post as the pages render it, for the live stream. It carries no per-session secret: the page's
    script fills in the CSRF token of a delete form from the page it lands on."""
    card = post_card(post, can_delete, datetime.now(UTC))
    return env.get_template(POST_FRAGMENT_TEMPLATE).render(card=card, csrf_token="", next_path="")


@dataclass(frozen=True)
class MessageCard:
    id: str
    sender_username: str
    sender_name: str
    html: Markup
    created_iso: str
    created_exact: str
    created_relative: str


def message_card(message: DirectMessage, now: datetime) -> MessageCard:
    return MessageCard(
        id=str(message.id),
        sender_username=message.sender.username,
        sender_name=message.sender.display_name or message.sender.username,
        # A direct message mentions nobody (mentions are a post's); its links are still links.
        html=render_post_text(message.text),
        created_iso=message.created_at.astimezone(UTC).isoformat(),
        created_exact=exact_time(message.created_at),
        created_relative=relative_time(message.created_at, now),
    )


def message_fragment(env: jinja2.Environment, message: DirectMessage) -> str:
    """One direct message for the live stream; the page's script marks the reader's own as theirs."""
    card = message_card(message, datetime.now(UTC))
    return env.get_template(MESSAGE_FRAGMENT_TEMPLATE).render(card=card, me="")
