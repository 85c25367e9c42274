"""The audit log: recording changes inside their own unit of work, and reading the log (site admins only).

An entry is written in the transaction of the change it records, so it exists exactly when the change
committed. A change that touches thousands of people at once (a directory sync, binding a large group) is one
entry with counts, naming the people only when there are few of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intrablog.domain.directory import PeopleChanges, SyncReport
from intrablog.domain.model import AuditEntry, Page, PageRequest, Post, Role, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Forbidden, Invalid
from intrablog.services.context import ServiceContext

# Up to this many, the people a many-person change touched are named; beyond, it gives counts only.
FEW = 50
# Deactivations matter most to an auditor: named always, up to this many (the count says how many in all).
DEACTIVATIONS_NAMED = 200
MAX_ACTION_CHARS = 64
# How much of a deleted post an entry keeps: enough to recognise it.
EXCERPT_CHARS = 140
# An action ("membership.added"), or a prefix ending with a dot ("membership.").
ACTION_FILTER_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$"
_ACTION_FILTER = re.compile(ACTION_FILTER_PATTERN)

# Every action written, for the page's filter.
ACTIONS = (
    "membership.added",
    "membership.removed",
    "role.changed",
    "binding.added",
    "binding.removed",
    "post.deleted",
    "channel.created",
    "sync.finished",
    "sync.failed",
)


async def record(uow: UnitOfWork, at: datetime, actor: User | None, action: str, subject: str, **details: Any) -> None:
    """Add an entry to the unit of work's transaction; ``actor`` None means the system did it."""
    await uow.audit.add(at, actor, action, subject, details)


def channel_subject(name: str) -> str:
    return f"channel {name}"


@dataclass(frozen=True)
class MembershipChange:
    """One person's membership of one channel, before and after (None: not a member)."""

    channel: str
    user_id: int
    before: Role | None
    after: Role | None

    @property
    def action(self) -> str:
        if self.before is None:
            return "membership.added"
        if self.after is None:
            return "membership.removed"
        return "role.changed"

    def details(self, member: str) -> dict[str, Any]:
        if self.before is not None and self.after is not None:
            return {"member": member, "before": self.before.value, "after": self.after.value}
        role = self.after or self.before
        return {"member": member, "role": role.value if role is not None else None}


async def record_membership(
    uow: UnitOfWork, at: datetime, actor: User | None, change: MembershipChange, member: str, **details: Any
) -> None:
    """One person joined, left or changed role: ``membership.added`` / ``.removed`` / ``role.changed``."""
    await record(uow, at, actor, change.action, channel_subject(change.channel), **change.details(member), **details)


async def record_deletion(uow: UnitOfWork, at: datetime, actor: User, post: Post, *, as_channel_admin: bool) -> None:
    """Someone other than the author deleted a post: what it was, so the entry stands without the post."""
    await record(
        uow,
        at,
        actor,
        "post.deleted",
        f"post {post.id}",
        author=post.author.username,
        channel=post.channel_name,
        deleted_as="channel admin" if as_channel_admin else "site admin",
        excerpt=post.text[:EXCERPT_CHARS],
    )


async def membership_summary(uow: UnitOfWork, changes: Sequence[MembershipChange]) -> dict[str, Any]:
    """Counts of memberships added and removed and of roles changed; each change by name when there are few."""
    summary: dict[str, Any] = {
        "memberships_added": sum(1 for change in changes if change.before is None),
        "memberships_removed": sum(1 for change in changes if change.after is None),
        "roles_changed": sum(1 for change in changes if change.before is not None and change.after is not None),
    }
    if 0 < len(changes) <= FEW:
        names = await uow.audit.usernames({change.user_id for change in changes})
        listed = [
            {"channel": change.channel, "change": change.action, **change.details(names.get(change.user_id, "?"))}
            for change in changes
        ]
        summary["changes"] = sorted(listed, key=lambda item: (item["channel"], item["member"], item["change"]))
    return summary


async def sync_details(
    uow: UnitOfWork, report: SyncReport, people: PeopleChanges, memberships: Sequence[MembershipChange]
) -> dict[str, Any]:
    """What a successful directory sync did, for its one ``sync.finished`` entry."""
    details: dict[str, Any] = {
        "people": report.people,
        "groups": report.groups,
        "group_memberships": report.memberships,
        "created": report.created,
        "updated": report.updated,
        "deactivated": report.deactivated,
        "reactivated": report.reactivated,
        "sessions_revoked": report.sessions_revoked,
        "seconds": round(report.duration_seconds, 3),
    }
    for label, names in (
        ("created", people.created_usernames),
        ("updated", people.updated_usernames),
        ("reactivated", people.reactivated_usernames),
    ):
        if 0 < len(names) <= FEW:
            details[f"{label}_usernames"] = list(names)
    if people.deactivated_usernames:
        details["deactivated_usernames"] = list(people.deactivated_usernames[:DEACTIVATIONS_NAMED])
    return details | await membership_summary(uow, memberships)


def parse_action_filter(action: str | None) -> str | None:
    if not action:
        return None
    if len(action) > MAX_ACTION_CHARS or not _ACTION_FILTER.fullmatch(action):
        raise Invalid(
            "action", "must be an action such as membership.added, or a prefix ending with a dot such as membership."
        )
    return action


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def list(
        self, viewer: User, before: int | None = None, limit: int | None = None, action: str | None = None
    ) -> Page[AuditEntry]:
        """Newest first, ``limit`` to a page (default 20), older than the entry id ``before``; site admins only."""
        if not (viewer.active and viewer.is_site_admin):
            raise Forbidden("only site admins read the audit log")
        maximum = self._ctx.policy.max_page_size
        size = 20 if limit is None else limit
        if not 1 <= size <= maximum:
            raise Invalid("limit", f"must be between 1 and {maximum}")
        wanted = parse_action_filter(action)
        async with self._ctx.database.unit_of_work() as uow:
            entries = await uow.audit.page(PageRequest(limit=size, before=before), wanted)
        # A full page may be followed by more; a short one is the end.
        return Page(entries, entries[-1].id if len(entries) == size else None)
