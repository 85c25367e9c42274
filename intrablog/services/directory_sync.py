"""The directory sync: make the users, groups and group memberships those of one complete directory listing.

All or nothing. The listing is complete or the sync changes nothing (it records a failed run and says why);
users are deactivated only when a complete, successful listing no longer holds them, and their sessions
are revoked in the same transaction.

Once across the nodes. Every node of one PostgreSQL schedules the sync, so a sync runs in the database's
exclusive section for it: one node at a time lists, applies and records. A scheduled round gives way when
another holder is inside, or when the last recorded run succeeded less than ``RECENT`` of an interval ago:
N nodes with the same interval then make about one sync per interval, whatever N. The command always runs
(after waiting for a sync in progress elsewhere, so two never overlap).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from intrablog.domain.directory import DirectorySnapshot, SyncReport
from intrablog.domain.events import DirectorySynced
from intrablog.errors import IntrablogError, Unavailable
from intrablog.services.audit import record, sync_details
from intrablog.services.context import ServiceContext
from intrablog.services.group_roles import apply_group_roles

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
SYNC_SUBJECT = "directory"
SYNC_JOB = "directory sync"
# Below one interval: a node meets the run it made itself at its next round about one interval later (give or
# take a timer waking early, or the skew of the clock of whichever node recorded it), and must sync then unless
# another node did since. The margin costs nothing: syncs stay 0.9 to about 1 interval apart.
RECENT = 0.9


def _quiet(_: str) -> None:
    return None


class DirectorySyncService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def run(self, progress: Progress = _quiet, page_size: int | None = None) -> SyncReport:
        """One sync, now (the command). Never raises for a directory or database failure: the report says
        what happened."""
        started_at = self._ctx.clock.now()

        def waiting() -> None:
            progress("another directory sync is running; waiting for it to finish")

        try:
            async with self._ctx.database.exclusive(SYNC_JOB, waiting):
                return await self._sync(progress, page_size)
        except Unavailable as exc:  # the section's own connection: _sync reports its failures itself
            report = await self._failed(started_at, exc)
            await self._ctx.events.publish(DirectorySynced(report))
            return report

    async def run_scheduled(self, interval: timedelta) -> SyncReport | None:
        """A round of the schedule: a sync, or None when another node is syncing or synced less than
        ``RECENT`` intervals ago (nothing is recorded then)."""
        try:
            async with self._ctx.database.try_exclusive(SYNC_JOB) as held:
                if not held:
                    log.info("directory sync skipped: another node is syncing")
                    return None
                # Read under the section: a previous holder's run is committed by now.
                age = await self._recent_success(interval)
                if age is not None:
                    log.info("directory sync skipped: the last one finished %.0f s ago", age.total_seconds())
                    return None
                return await self._sync(_quiet, None)
        except Unavailable as exc:  # the database: no sync could be applied or recorded either
            log.warning("directory sync skipped this round: %s", exc.detail)
            return None

    async def _sync(self, progress: Progress, page_size: int | None) -> SyncReport:
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
            report = await self._failed(started_at, exc)
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

    async def _recent_success(self, interval: timedelta) -> timedelta | None:
        """How long ago the last run finished, when it succeeded less than ``RECENT`` intervals ago."""
        async with self._ctx.database.reading() as uow:
            last = await uow.directory_sync.last_run()
        if last is None or not last.ok:
            return None  # none yet, or it failed (perhaps only on the node that ran it): try here, now
        age = self._ctx.clock.now() - last.finished_at
        return age if age < interval * RECENT else None

    async def _failed(self, started_at: datetime, exc: IntrablogError) -> SyncReport:
        report = SyncReport(ok=False, started_at=started_at, finished_at=self._ctx.clock.now(), error=exc.detail)
        await self._record_failure(report)
        log.warning("directory sync failed, nothing changed: %s", exc.detail)
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
