"""Announcements that ask for acknowledgement: acknowledging, the report (JSON and CSV), what is pending."""

from __future__ import annotations

from aiohttp import web

from intrablog.domain.model import Acknowledgement, AckReport
from intrablog.web.ack_csv import report_csv, report_filename
from intrablog.web.inputs import path_post_id
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import identity
from intrablog.web.render import json_response, post_out
from intrablog.web.routing import api
from intrablog.web.schemas import (
    AcknowledgedOut,
    AcknowledgementOut,
    AckReportOut,
    DepartmentCountOut,
    PendingAcknowledgementOut,
    PostOut,
)

_REPORT_RIGHTS = (
    "Only the author, the channel's posters and admins, and site admins may see it (403 for other readers, 404 "
    "for those who may not read the post); 409 when the post does not ask for acknowledgement."
)


def acknowledgement_out(ack: Acknowledgement) -> AcknowledgementOut:
    return AcknowledgementOut(
        post_id=str(ack.post_id),
        username=ack.username,
        display_name=ack.display_name,
        department=ack.department,
        at=ack.at,
        via="im" if ack.via == "im" else "web",
    )


def report_out(report: AckReport) -> AckReportOut:
    return AckReportOut(
        post_id=str(report.post.id),
        acknowledged=[
            AcknowledgedOut(
                username=ack.username,
                display_name=ack.display_name,
                department=ack.department,
                at=ack.at,
                via="im" if ack.via == "im" else "web",
            )
            for ack in report.acknowledged
        ],
        pending=[
            PendingAcknowledgementOut(
                username=person.username, display_name=person.display_name, department=person.department
            )
            for person in report.pending
        ],
        by_department=[
            DepartmentCountOut(department=department, acknowledged=done, pending=waiting)
            for department, done, waiting in report.by_department
        ],
    )


@api.route(
    "POST",
    "/api/v1/posts/{id}/ack",
    summary="Acknowledge an announcement that asks for it",
    description="Idempotent: acknowledging again changes nothing and answers the first acknowledgement (its "
    "time and door). 409 when the post does not ask for acknowledgement or is your own.",
    tag="announcements",
    response=AcknowledgementOut,
    errors=(404, 409),
)
async def acknowledge_post(request: web.Request) -> web.StreamResponse:
    ack = await request.app[SERVICES].announcements.acknowledge(identity(request).user, path_post_id(request), "web")
    return json_response(acknowledgement_out(ack))


@api.route(
    "GET",
    "/api/v1/posts/{id}/acks",
    summary="Who acknowledged an announcement and who not yet, by department",
    description="Everyone asked is every active person but the author. " + _REPORT_RIGHTS,
    tag="announcements",
    response=AckReportOut,
    errors=(403, 404, 409),
)
async def acknowledgement_report(request: web.Request) -> web.StreamResponse:
    report = await request.app[SERVICES].announcements.report(identity(request).user, path_post_id(request))
    return json_response(report_out(report))


@api.route(
    "GET",
    "/api/v1/posts/{id}/acks.csv",
    summary="The acknowledgement report as CSV",
    description="Columns `username,display_name,department,status,acknowledged_at`; status is `acknowledged` "
    "(oldest first) or `pending`. A cell a spreadsheet would run as a formula starts with an apostrophe. "
    + _REPORT_RIGHTS,
    tag="announcements",
    errors=(403, 404, 409),
    media_type="text/csv",
)
async def acknowledgement_report_csv(request: web.Request) -> web.StreamResponse:
    report = await request.app[SERVICES].announcements.report(identity(request).user, path_post_id(request))
    response = web.Response(text=report_csv(report), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{report_filename(report.post.id)}"'
    return response


@api.route(
    "GET",
    "/api/v1/me/acknowledgements/pending",
    summary="Announcements waiting for your acknowledgement, newest first",
    description="At most 100. Whether you acknowledged a given post is not part of the post itself (a post "
    "reads the same for everyone): it is pending here until you do.",
    tag="announcements",
    response=PostOut,
    response_is_list=True,
)
async def my_pending_acknowledgements(request: web.Request) -> web.StreamResponse:
    posts = await request.app[SERVICES].announcements.pending_for(identity(request).user)
    public_url = request.app[WEB_SETTINGS].public_url
    return json_response([post_out(post, public_url) for post in posts])
