"""Where the reader stands with the announcements a page shows, and the home page's "waiting for you" notice.

Asked once per page, and only when the page shows an announcement that asks for acknowledgement (or, for
the notice, on the home page): a timeline without announcements costs nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from intrablog.domain.model import Post, Role, User
from intrablog.errors import NotFound
from intrablog.web.keys import SERVICES
from intrablog.web.pages.views import AckMark, exact_time, relative_time
from intrablog.web.text import excerpt


async def ack_marks(request: web.Request, viewer: User, posts: Iterable[Post]) -> dict[int, AckMark]:
    """For each post that asks for acknowledgement: waiting, acknowledged (when) or the reader's own.

    Everyone who can read an announcement but its author is asked to acknowledge it, so a reader without
    an acknowledgement is waiting.
    """
    asking = [post for post in posts if post.requires_ack]
    if not asking:
        return {}
    services = request.app[SERVICES]
    others = [post.id for post in asking if post.author_id != viewer.id]
    done = await services.announcements.acknowledgements_of(viewer, others)
    reporters = await _report_channels(request, viewer, asking)
    marks: dict[int, AckMark] = {}
    for post in asking:
        can_report = post.author_id == viewer.id or viewer.is_site_admin or post.channel_name in reporters
        if post.author_id == viewer.id:
            marks[post.id] = AckMark("author", can_report=True)
        elif post.id in done:
            marks[post.id] = AckMark("acknowledged", done[post.id].at, can_report)
        else:
            marks[post.id] = AckMark("waiting", can_report=can_report)
    return marks


async def _report_channels(request: web.Request, viewer: User, posts: list[Post]) -> set[str]:
    """The channels among ``posts``' where the reader is a poster or admin (they see the reports there)."""
    if viewer.is_site_admin:
        return set()  # they see every report anyway
    names = {post.channel_name for post in posts if post.channel_name is not None and post.author_id != viewer.id}
    found: set[str] = set()
    for name in names:
        try:
            view = await request.app[SERVICES].channels.show(viewer, name)
        except NotFound:
            continue
        if view.my_role is not None and view.my_role.at_least(Role.POSTER):
            found.add(name)
    return found


@dataclass(frozen=True)
class WaitingItem:
    """One announcement in the home page's "waiting for your acknowledgement" notice."""

    id: str
    summary: str
    author_name: str
    channel: str | None
    urgent: bool
    created_iso: str
    created_exact: str
    created_relative: str


async def waiting_for(request: web.Request, viewer: User) -> list[WaitingItem]:
    """The announcements the reader has not acknowledged, newest first (after the reminder round, this
    notice is the web's reminder)."""
    now = datetime.now(UTC)
    return [
        WaitingItem(
            id=str(post.id),
            summary=excerpt(post.text, 100),
            author_name=post.author.display_name or post.author.username,
            channel=post.channel_name,
            urgent=post.urgent,
            created_iso=post.created_at.astimezone(UTC).isoformat(),
            created_exact=exact_time(post.created_at),
            created_relative=relative_time(post.created_at, now),
        )
        for post in await request.app[SERVICES].announcements.pending_for(viewer)
    ]
