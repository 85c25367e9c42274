"""The mirror of the directory, replaced from complete listings: people, groups, group memberships, runs.

Set-based on purpose: a directory of tens of thousands of people is a handful of statements per chunk, in
one transaction, not one round trip per person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.directory import DirectorySnapshot, PeopleChanges, SyncReport
from intrablog.domain.directory_sync_ports import RecordedRun
from intrablog.domain.model import DirectoryPerson
from intrablog.storage.models import Base, DirectoryGroupRow, GroupMembershipRow, SyncRunRow, UserRow
from intrablog.storage.repositories.users import stored_address
from intrablog.storage.sql import chunks


class SqlDirectorySyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def apply_people(
        self, people: Sequence[DirectoryPerson], site_admins: frozenset[str], now: datetime
    ) -> PeopleChanges:
        columns = (
            UserRow.id,
            UserRow.username,
            UserRow.display_name,
            UserRow.email,
            UserRow.xmpp_address,
            UserRow.department,
        )
        rows = await self._session.execute(select(*columns, UserRow.active, UserRow.is_site_admin))
        known = {row.username: row for row in rows}
        listed = {person.username for person in people}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        updated: list[str] = []
        reactivated: list[str] = []
        for person in people:
            values = {
                "display_name": person.display_name,
                "email": person.email,
                "xmpp_address": stored_address(person.xmpp_address),
                "is_site_admin": person.username in site_admins,
                "department": person.department,
            }
            row = known.get(person.username)
            if row is None:
                new.append(
                    {"username": person.username, "created_at": now, "last_seen_in_directory": now, "active": True}
                    | values
                )
                continue
            differs = any(getattr(row, key) != value for key, value in values.items())
            if not row.active:
                reactivated.append(person.username)
            elif differs:
                updated.append(person.username)
            if differs or not row.active:
                changed.append({"user_id": row.id, "active": True, **values})
        gone_rows = [row for row in known.values() if row.active and row.username not in listed]
        gone = [row.id for row in gone_rows]
        for batch in chunks(new):
            await self._session.execute(insert(UserRow), list(batch))
        if changed:
            # Core executemany: the SET clause comes from the keys of each parameter set.
            users = _table("users")
            statement = update(users).where(users.c.id == bindparam("user_id"))
            for batch in chunks(changed):
                await self._session.execute(statement, list(batch))
        for ids in chunks(gone):
            await self._session.execute(update(UserRow).where(UserRow.id.in_(ids)).values(active=False))
        # Everyone still active was in this listing: seen now.
        await self._session.execute(update(UserRow).where(UserRow.active).values(last_seen_in_directory=now))
        return PeopleChanges(
            created=len(new),
            updated=len(updated),
            deactivated=len(gone),
            reactivated=len(reactivated),
            deactivated_ids=tuple(gone),
            created_usernames=tuple(sorted(row["username"] for row in new)),
            updated_usernames=tuple(sorted(updated)),
            deactivated_usernames=tuple(sorted(row.username for row in gone_rows)),
            reactivated_usernames=tuple(sorted(reactivated)),
        )

    async def replace_groups(self, snapshot: DirectorySnapshot) -> int:
        listed = {group.dn.lower(): group for group in snapshot.groups}
        rows = await self._session.execute(select(DirectoryGroupRow.id, DirectoryGroupRow.dn))
        stored = {row.dn: row.id for row in rows}
        gone = [group_id for dn, group_id in stored.items() if dn not in listed]
        for ids in chunks(gone):
            await self._session.execute(delete(GroupMembershipRow).where(GroupMembershipRow.group_id.in_(ids)))
            await self._session.execute(delete(DirectoryGroupRow).where(DirectoryGroupRow.id.in_(ids)))
        fresh = [{"dn": dn, "name": g.name, "kind": g.kind.value} for dn, g in listed.items() if dn not in stored]
        for batch in chunks(fresh):
            await self._session.execute(insert(DirectoryGroupRow), list(batch))
        kept = [
            {"group_id": stored[dn], "name": group.name, "kind": group.kind.value}
            for dn, group in listed.items()
            if dn in stored
        ]
        groups = _table("directory_groups")
        for batch in chunks(kept):
            await self._session.execute(update(groups).where(groups.c.id == bindparam("group_id")), list(batch))
        group_rows = await self._session.execute(select(DirectoryGroupRow.id, DirectoryGroupRow.dn))
        group_ids = {row.dn: row.id for row in group_rows}
        user_ids = {row.username: row.id for row in await self._session.execute(select(UserRow.id, UserRow.username))}
        wanted = {
            (group_ids[dn.lower()], user_ids[listed_person.person.username])
            for listed_person in snapshot.people
            for dn in listed_person.group_dns
            if dn.lower() in group_ids and listed_person.person.username in user_ids
        }
        current = await self._session.execute(select(GroupMembershipRow.group_id, GroupMembershipRow.user_id))
        have = {(row.group_id, row.user_id) for row in current}
        extra = [{"old_group": g, "old_user": u} for g, u in sorted(have - wanted)]
        memberships = _table("group_memberships")
        remove = delete(memberships).where(
            memberships.c.group_id == bindparam("old_group"), memberships.c.user_id == bindparam("old_user")
        )
        for batch in chunks(extra):
            await self._session.execute(remove, list(batch))
        missing = [{"group_id": g, "user_id": u} for g, u in sorted(wanted - have)]
        for batch in chunks(missing):
            await self._session.execute(insert(GroupMembershipRow), list(batch))
        return len(wanted)

    async def record_run(self, report: SyncReport) -> None:
        await self._session.execute(
            insert(SyncRunRow).values(
                started_at=report.started_at,
                finished_at=report.finished_at,
                ok=report.ok,
                created=report.created,
                updated=report.updated,
                deactivated=report.deactivated,
                reactivated=report.reactivated,
                error=report.error,
            )
        )

    async def last_run(self) -> RecordedRun | None:
        # By id, the primary key's index: runs are recorded as they finish, one sync at a time (see the service).
        statement = select(SyncRunRow.ok, SyncRunRow.finished_at).order_by(SyncRunRow.id.desc()).limit(1)
        row = (await self._session.execute(statement)).first()
        return RecordedRun(ok=bool(row.ok), finished_at=row.finished_at) if row is not None else None

    async def group_members(self, group_dn: str) -> list[str]:
        statement = (
            select(UserRow.username)
            .join(GroupMembershipRow, GroupMembershipRow.user_id == UserRow.id)
            .join(DirectoryGroupRow, DirectoryGroupRow.id == GroupMembershipRow.group_id)
            .where(DirectoryGroupRow.dn == group_dn.lower())
            .order_by(UserRow.username)
        )
        return list((await self._session.execute(statement)).scalars())


def _table(name: str) -> Table:
    # Core tables for executemany UPDATE/DELETE by key: the ORM's bulk forms allow no WHERE of their own.
    return Base.metadata.tables[name]
