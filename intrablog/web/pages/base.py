"""What every page handler shares: who is reading, rendering with the layout's context, forms, redirects."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from intrablog.domain.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS, parse_id
from intrablog.domain.model import Page, Post, User
from intrablog.errors import IntrablogError, Invalid
from intrablog.web.keys import LIVE, WEB_SETTINGS
from intrablog.web.middlewares import csrf_token_for, identity
from intrablog.web.pages.ack_state import ack_marks
from intrablog.web.pages.views import PostCard, post_cards

# "" where the reason is a whole sentence already ("only announcements may be urgent: ...").
_FIELD_WORDS = {
    "text": "your post",
    "in_reply_to": "the post you reply to",
    "channel": "the channel",
    "requires_ack": "",
    "urgent": "",
}
_MAX_FIELD_CHARS = 20_000


@dataclass(frozen=True)
class Reader:
    user: User
    csrf_token: str


def reader(request: web.Request) -> Reader:
    """The signed-in person reading the page (Unauthenticated → the error middleware sends them to /login)."""
    who = identity(request)
    return Reader(who.user, csrf_token_for(request.app[WEB_SETTINGS].secret_key, who.token))


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    who: Reader | None = None,
) -> web.Response:
    settings = request.app[WEB_SETTINGS]
    values = {
        "viewer": who.user if who else None,
        "csrf_token": who.csrf_token if who else "",
        "max_chars": settings.max_post_chars,
        "current_path": request.path_qs,
        "nav": "",
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, values, status=status)
    # Pages differ per reader and carry a CSRF token: never cached by a shared cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(location: str) -> web.Response:
    """Post/redirect/get: a reload after a form never posts twice."""
    return web.Response(status=303, headers={"Location": location})


def local_path(value: str | None, fallback: str = "/") -> str:
    """A redirect target from a form or query: only a path on this site (no open redirect)."""
    if not value:
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return fallback
    return value


@dataclass(frozen=True)
class ComposeForm:
    text: str
    in_reply_to: int | None
    # The announcement options (checkboxes of an announcement channel's box, for its posters).
    requires_ack: bool = False
    urgent: bool = False


async def form_fields(request: web.Request) -> Mapping[str, str]:
    data = await request.post()
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            # NUL cannot be stored by PostgreSQL; dropping it here keeps every field safe to pass on.
            fields[key] = value[:_MAX_FIELD_CHARS].replace("\x00", "")
    return fields


async def compose_form(request: web.Request) -> ComposeForm:
    fields = await form_fields(request)
    raw_reply = fields.get("in_reply_to", "").strip()
    in_reply_to: int | None = None
    if raw_reply:
        in_reply_to = parse_id(raw_reply)
        if in_reply_to is None:
            raise Invalid("in_reply_to", "no such post")
    # Browsers send CRLF line ends from a textarea; a post counts its characters like the API (LF).
    return ComposeForm(
        fields.get("text", "").replace("\r\n", "\n"),
        in_reply_to,
        # A checkbox is sent only when ticked, whatever its value.
        requires_ack="requires_ack" in fields,
        urgent="urgent" in fields,
    )


@dataclass(frozen=True)
class ComposeState:
    """The compose box as a page shows it: empty, or the text sent back with the reason it was refused."""

    text: str = ""
    error: str = ""
    in_reply_to: str = ""
    reply_label: str = ""
    requires_ack: bool = False
    urgent: bool = False


def sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}" + ("" if text.endswith((".", "!", "?")) else ".")


def compose_error(error: IntrablogError) -> str:
    """A refused post explained in words: "Your post is 281 characters; the limit is 280." """
    if isinstance(error, Invalid):
        words = [(_FIELD_WORDS.get(e.field, e.field), e.reason) for e in error.errors]
        return sentence("; ".join(f"{field} {reason}" if field else reason for field, reason in words))
    return sentence(error.detail)


async def cards(request: web.Request, who: Reader, posts: list[Post]) -> list[PostCard]:
    deletable = await request.app[LIVE].deletable(who.user, posts)
    return post_cards(posts, deletable, marks=await ack_marks(request, who.user, posts))


def live_url(base: str, ids: Iterable[int]) -> str:
    """Where the page's script listens for new items, from the newest one the page already shows.

    An empty page starts from an id made of the time it was rendered, so a post made between rendering
    and connecting is still caught up.
    """
    newest = max(ids, default=None)
    if newest is None:
        newest = max(int(time.time() * 1000) - EPOCH_MS, 0) << (NODE_BITS + SEQUENCE_BITS)
    return f"{base}?after={newest}"


def next_page_url(request: web.Request, next_before: int | None, keep: tuple[str, ...] = ()) -> str | None:
    """The link to the older page: this address with ``before`` and the query parameters named in ``keep``."""
    if next_before is None:
        return None
    query = {key: value for key, value in request.query.items() if key in keep}
    return str(request.rel_url.with_query({**query, "before": str(next_before)}))


async def post_list(request: web.Request, who: Reader, page: Page[Post], live_base: str) -> dict[str, Any]:
    """A page of posts as a timeline template shows it: the cards, the live stream and the older page."""
    return {
        "cards": await cards(request, who, page.items),
        # An older page is a look back: new posts would not belong at its top, so it has no live stream.
        "live_url": None if "before" in request.query else live_url(live_base, (post.id for post in page.items)),
        "next_url": next_page_url(request, page.next_before),
    }
