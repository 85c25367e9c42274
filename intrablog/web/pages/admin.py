"""The audit log page for site admins: a table, newest first, an action filter and links to older entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from aiohttp import web

from intrablog.domain.model import AuditEntry
from intrablog.errors import Invalid
from intrablog.services.audit import ACTIONS
from intrablog.web.api.admin import audit_query
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import next_page_url, reader, render, sentence
from intrablog.web.pages.views import exact_time

# Words for the detail keys a reader meets most; others are shown as written.
_DETAIL_WORDS = {
    "member": "member",
    "previous_role": "previous role",
    "deleted_as": "deleted as",
    "memberships_added": "memberships added",
    "memberships_removed": "memberships removed",
    "roles_changed": "roles changed",
    "group_memberships": "group memberships",
    "sessions_revoked": "sessions revoked",
}


@dataclass(frozen=True)
class DetailLine:
    label: str
    text: str
    # A list of changes (each one line), when the value is one.
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditRow:
    at_iso: str
    at_exact: str
    actor: str
    action: str
    subject: str
    details: tuple[DetailLine, ...]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {_text(item)}" for key, item in value.items())
    return str(value)


def _detail_lines(details: Mapping[str, Any]) -> tuple[DetailLine, ...]:
    lines: list[DetailLine] = []
    for key, value in details.items():
        label = _DETAIL_WORDS.get(key, key.replace("_", " "))
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            lines.append(DetailLine(label, "", tuple(_text(item) for item in value)))
        else:
            lines.append(DetailLine(label, _text(value)))
    return tuple(lines)


def audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        at_iso=entry.at.astimezone(UTC).isoformat(),
        at_exact=exact_time(entry.at),
        actor=entry.actor or "system",
        action=entry.action,
        subject=entry.subject,
        details=_detail_lines(entry.details),
    )


def _filter_choices() -> list[tuple[str, str]]:
    """Every action, each family first as a prefix ("membership." = all membership changes)."""
    choices: list[tuple[str, str]] = [("", "All actions")]
    for action in ACTIONS:
        family = action.split(".", 1)[0] + "."
        if all(value != family for value, _ in choices):
            choices.append((family, f"{family} (all)"))
        choices.append((action, action))
    return choices


async def audit_page(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    audit = request.app[SERVICES].audit
    action = request.query.get("action", "")
    status, error = 200, ""
    try:
        before, limit, _ = audit_query(request)
        page = await audit.list(who.user, before, limit, action)
    except Invalid as invalid:
        # A bad filter or a hand-edited address: the reason above the newest entries, not an error page.
        # This call still refuses someone who is not a site admin (the readable 403 page).
        status, error = 422, sentence("; ".join(f"{e.field} {e.reason}" for e in invalid.errors))
        action = ""
        page = await audit.list(who.user)
    context = {
        "nav": "audit",
        "rows": [audit_row(entry) for entry in page.items],
        "action": action,
        "choices": _filter_choices(),
        "error": error,
        "older_url": next_page_url(request, page.next_before, keep=("action", "limit")),
        "newest_url": str(request.rel_url.with_query({"action": action} if action else {}))
        if "before" in request.query
        else None,
    }
    return render(request, "audit.html", context, status, who)
