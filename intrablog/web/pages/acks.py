"""Acknowledging an announcement from its Acknowledge button, and the report of who has (``/posts/{id}/acks``).

The button is a form post that comes back to the page it was pressed on (post/redirect/get). The report is
for the announcement's author, the channel's posters and admins, and site admins; anyone else gets the
error page the service's refusal calls for (not allowed, or not found for a post they cannot read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from intrablog.domain.model import AckReport
from intrablog.web.inputs import path_post_id
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import cards, form_fields, local_path, reader, render, see_other
from intrablog.web.pages.views import exact_time, relative_time
from intrablog.web.text import excerpt

_DOORS = {"web": "Web", "im": "IM"}


async def acknowledge(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    post_id = path_post_id(request)
    fields = await form_fields(request)
    await request.app[SERVICES].announcements.acknowledge(who.user, post_id, "web")
    # Back where the button was, at the post (it now says "Acknowledged").
    target = local_path(fields.get("next"), f"/posts/{post_id}").split("#")[0]
    return see_other(f"{target}#post-{post_id}")


@dataclass(frozen=True)
class AckRow:
    name: str
    username: str
    department: str
    at_iso: str = ""
    at_exact: str = ""
    at_relative: str = ""
    via: str = ""


@dataclass(frozen=True)
class Counts:
    acknowledged: int
    pending: int

    @property
    def total(self) -> int:
        return self.acknowledged + self.pending

    @property
    def percent(self) -> int:
        return round(100 * self.acknowledged / self.total) if self.total else 100


def _rows(report: AckReport, now: datetime) -> tuple[list[AckRow], list[AckRow]]:
    done = [
        AckRow(
            name=ack.display_name or ack.username,
            username=ack.username,
            department=ack.department or "",
            at_iso=ack.at.astimezone(UTC).isoformat(),
            at_exact=exact_time(ack.at),
            at_relative=relative_time(ack.at, now),
            via=_DOORS.get(ack.via, ack.via),
        )
        for ack in report.acknowledged
    ]
    waiting = [
        AckRow(
            name=person.display_name or person.username, username=person.username, department=person.department or ""
        )
        for person in report.pending
    ]
    return done, waiting


async def report_page(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    post_id = path_post_id(request)
    report = await request.app[SERVICES].announcements.report(who.user, post_id)
    done, waiting = _rows(report, datetime.now(UTC))
    context = {
        "title": excerpt(report.post.text, 60),
        "channel": report.post.channel_name,
        "cards": await cards(request, who, [report.post]),
        "counts": Counts(len(done), len(waiting)),
        "departments": report.by_department,
        "acknowledged": done,
        "pending": waiting,
        "csv_url": f"/api/v1/posts/{post_id}/acks.csv",
    }
    return render(request, "acks.html", context, who=who)
