"""Site administration: the audit log, newest first, paged with ``limit`` and ``before`` and a Link header."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from intrablog.domain.model import AuditEntry
from intrablog.services.audit import ACTION_FILTER_PATTERN, MAX_ACTION_CHARS
from intrablog.web.inputs import query_before, query_limit
from intrablog.web.keys import SERVICES
from intrablog.web.middlewares import identity
from intrablog.web.render import paged_response
from intrablog.web.routing import QueryParameter, api


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
    before = query_before(request, "must be an entry id (the cursor of the Link header)")
    return before, query_limit(request), request.query.get("action")


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
    return paged_response(request, [entry_out(entry) for entry in page.items], page.next_before)
