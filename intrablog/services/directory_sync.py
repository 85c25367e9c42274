"""The directory sync: make the users, groups and group memberships those of one complete directory listing.

All or nothing. The listing is complete or the sync changes nothing (it records a failed run and says why);
users are deactivated only when a complete, successful listing no longer holds them, and their sessions
are revoked in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from intrablog.domain.directory import DirectorySnapshot, SyncReport
from intrablog.domain.events import DirectorySynced
from intrablog.errors import IntrablogError
from intrablog.services.audit import record, sync_details
from intrablog.services.context import ServiceContext
from intrablog.services.group_roles import apply_group_roles

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
SYNC_SUBJECT = "directory"


def _quiet(_: str) -> None:
    return None


class DirectorySyncService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def run(self, progress: Progress = _quiet, page_size: int | None = None) -> SyncReport:
        """One sync; never raises for a directory or database failure: the report says what happened."""
        started_at = self._ctx.clock.now()
        progress("listing the directory")
        try:
            snapshot = await self._ctx.directory.list_people(page_size)
            if not snapshot.people:
                # A listing of nobody is far likelier a wrong base or filter than a company with no staff.
                raise _NothingListed("the directory listed no people; refusing to deactivate everyone")
            progress(f"listed {len(snapshot.people)} people and {len(snapshot.groups)} groups; applying them")
            report = await self._apply(snapshot, started_at)
        except IntrablogError as exc:
            report = SyncReport(ok=False, started_at=started_at, finished_at=self._ctx.clock.now(), error=exc.detail)
            await self._record_failure(report)
            log.warning("directory sync failed, nothing changed: %s", exc.detail)
        else:
            log.info(
                "directory sync done",
                extra={
                    # "created" is a field of every LogRecord: these names stay clear of them.
                    "users_created": report.created,
                    "users_updated": report.updated,
                    "users_deactivated": report.deactivated,
                    "users_reactivated": report.reactivated,
                },
            )
        await self._ctx.events.publish(DirectorySynced(report))
        return report

    async def _apply(self, snapshot: DirectorySnapshot, started_at: datetime) -> SyncReport:
        now = self._ctx.clock.now()
        people = [listed.person for listed in snapshot.people]
        async with self._ctx.database.unit_of_work() as uow:
            changes = await uow.directory_sync.apply_people(people, self._site_admins(snapshot), now)
            memberships = await uow.directory_sync.replace_groups(snapshot)
            revoked = await uow.sessions.revoke_all_of(changes.deactivated_ids, now)
            # After people and groups, in the same transaction: channel memberships from bound groups.
            bound = await apply_group_roles(uow, self._ctx.policy, now)
            report = SyncReport(
                ok=True,
                started_at=started_at,
                finished_at=self._ctx.clock.now(),
                created=changes.created,
                updated=changes.updated,
                deactivated=changes.deactivated,
                reactivated=changes.reactivated,
                people=len(people),
                groups=len(snapshot.groups),
                memberships=memberships,
                sessions_revoked=revoked,
                channel_memberships_changed=bound.reconciled,
            )
            await uow.directory_sync.record_run(report)
            # One entry for the whole run, however many people it touched.
            details = await sync_details(uow, report, changes, bound.changes)
            await record(uow, report.finished_at, None, "sync.finished", SYNC_SUBJECT, **details)
            await uow.commit()
        return report

    def _site_admins(self, snapshot: DirectorySnapshot) -> frozenset[str]:
        """The configured usernames, and the members of the admin groups (named by name or DN)."""
        wanted = self._ctx.policy.admin_groups
        admin_dns = {group.dn.lower() for group in snapshot.groups if {group.dn.lower(), group.name.lower()} & wanted}
        in_groups = {
            listed.person.username
            for listed in snapshot.people
            if any(dn.lower() in admin_dns for dn in listed.group_dns)
        }
        return self._ctx.policy.site_admins | in_groups

    async def _record_failure(self, report: SyncReport) -> None:
        try:
            async with self._ctx.database.unit_of_work() as uow:
                await uow.directory_sync.record_run(report)
                await record(uow, report.finished_at, None, "sync.failed", SYNC_SUBJECT, error=report.error)
                await uow.commit()
        except IntrablogError as exc:  # the database may be what failed; the report still tells the caller
            log.error("could not record the failed directory sync: %s", exc.detail)


class _NothingListed(IntrablogError):
    title = "Directory listing refused"
