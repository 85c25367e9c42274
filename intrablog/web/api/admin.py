"""Site administration: the audit log, newest first, paged with ``limit`` and ``before`` and a Link header."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from intrablog.domain.ids import parse_id
from intrablog.domain.model import AuditEntry, Page
from intrablog.errors import Invalid
from intrablog.services.audit import ACTION_FILTER_PATTERN, MAX_ACTION_CHARS
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import identity
from intrablog.web.render import json_response
from intrablog.web.routing import QueryParameter, api

MAX_LIMIT_DIGITS = 6


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = Field(description="Increases with every entry; the paging cursor")
    at: datetime
    actor: str | None = Field(description="Username of who did it; null when the system did (the directory sync)")
    action: str = Field(description="membership.added, membership.removed, role.changed, binding.added, ...")
    subject: str = Field(description="What it was done to: 'channel engineering', 'post 123', 'directory'")
    details: dict[str, Any] = Field(description="The rest: roles before and after, a sync's counts, an error")


ACTION_FILTER = QueryParameter(
    name="action",
    description="Only entries with this action (membership.added), or whose action starts with a prefix ending "
    "with a dot (membership.)",
    schema={"type": "string", "minLength": 1, "maxLength": MAX_ACTION_CHARS, "pattern": ACTION_FILTER_PATTERN},
)


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=dict(entry.details),
    )


def audit_query(request: web.Request) -> tuple[int | None, int | None, str | None]:
    """``before``, ``limit`` and ``action`` from the query string, each named when it cannot be one."""
    before: int | None = None
    raw_before = request.query.get("before")
    if raw_before is not None:
        before = parse_id(raw_before)
        if before is None:
            raise Invalid("before", "must be an entry id (the cursor of the Link header)")
    limit: int | None = None
    raw_limit = request.query.get("limit")
    if raw_limit is not None:
        if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > MAX_LIMIT_DIGITS:
            raise Invalid("limit", "must be a whole number")
        limit = int(raw_limit)
    return before, limit, request.query.get("action")


def _entry_page(request: web.Request, page: Page[AuditEntry]) -> web.Response:
    response = json_response([entry_out(entry) for entry in page.items])
    if page.next_before is not None:
        query = dict(request.query)
        query["before"] = str(page.next_before)
        query.setdefault("limit", str(len(page.items)))
        public_url = request.app[WEB_SETTINGS].public_url
        response.headers["Link"] = f'<{public_url}{request.rel_url.with_query(query)}>; rel="next"'
    return response


@api.route(
    "GET",
    "/api/v1/admin/audit",
    summary="The audit log, newest first (site admins only)",
    description=(
        "Membership and role changes, group bindings, posts deleted by someone other than their author, channels "
        "created, and every directory sync with its counts (one entry per run)."
    ),
    tag="admin",
    response=AuditEntryOut,
    response_is_list=True,
    paged=True,
    errors=(403,),
    query=(ACTION_FILTER,),
)
async def audit_log(request: web.Request) -> web.StreamResponse:
    before, limit, action = audit_query(request)
    page = await request.app[SERVICES].audit.list(identity(request).user, before, limit, action)
    return _entry_page(request, page)
