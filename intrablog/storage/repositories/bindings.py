"""Channels bound to directory groups, and the group memberships they carry.

Set-based like the directory mirror: applying the bindings after a sync of tens of thousands of people is a
few statements per channel, not a round trip per person.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.bindings import BindingChanges, CurrentMembership, GroupBinding
from intrablog.domain.model import ChannelKind, MembershipSource, Role
from intrablog.storage.models import (
    ChannelFollowRow,
    ChannelGroupBindingRow,
    ChannelRow,
    DirectoryGroupRow,
    GroupMembershipRow,
    MembershipRow,
    UserRow,
)
from intrablog.storage.repositories.directory_sync import _table
from intrablog.storage.sql import chunks, conflict_insert

GROUP = MembershipSource.GROUP.value
MANUAL = MembershipSource.MANUAL.value


class SqlBindingRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def bind(self, channel_id: int, group: str, role: Role, now: datetime) -> None:
        statement = (
            conflict_insert(self._dialect_name, ChannelGroupBindingRow)
            .values(channel_id=channel_id, group_ref=group, role=role.value, created_at=now)
            .on_conflict_do_update(
                index_elements=[ChannelGroupBindingRow.channel_id, ChannelGroupBindingRow.group_ref],
                set_={"role": role.value},
            )
        )
        await self._session.execute(statement)

    async def unbind(self, channel_id: int, group: str) -> bool:
        statement = (
            delete(ChannelGroupBindingRow)
            .where(ChannelGroupBindingRow.channel_id == channel_id, ChannelGroupBindingRow.group_ref == group)
            .returning(ChannelGroupBindingRow.channel_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def stored(self) -> list[GroupBinding]:
        statement = (
            select(ChannelGroupBindingRow.channel_id, ChannelRow.name, ChannelGroupBindingRow.group_ref)
            .add_columns(ChannelGroupBindingRow.role)
            .join(ChannelRow, ChannelRow.id == ChannelGroupBindingRow.channel_id)
            .order_by(ChannelRow.name, ChannelGroupBindingRow.group_ref)
        )
        return [
            GroupBinding(row.channel_id, row.name, row.group_ref, Role(row.role))
            for row in await self._session.execute(statement)
        ]

    async def members_of(self, groups: Collection[str], only_user: int | None = None) -> dict[str, set[int]]:
        """Active members of each group, named by lower-cased name or DN, as the last sync stored them."""
        if not groups:
            return {}
        statement = (
            select(DirectoryGroupRow.dn, func.lower(DirectoryGroupRow.name).label("name"), GroupMembershipRow.user_id)
            .join(GroupMembershipRow, GroupMembershipRow.group_id == DirectoryGroupRow.id)
            .join(UserRow, UserRow.id == GroupMembershipRow.user_id)
            .where(UserRow.active)
            .where(or_(DirectoryGroupRow.dn.in_(groups), func.lower(DirectoryGroupRow.name).in_(groups)))
        )
        if only_user is not None:
            statement = statement.where(GroupMembershipRow.user_id == only_user)
        members: dict[str, set[int]] = {}
        for row in await self._session.execute(statement):
            for ref in (row.dn, row.name):
                if ref in groups:
                    members.setdefault(ref, set()).add(row.user_id)
        return members

    async def username_in_groups(self, username: str, groups: Collection[str]) -> bool:
        if not groups:
            return False
        statement = (
            select(GroupMembershipRow.user_id)
            .join(DirectoryGroupRow, DirectoryGroupRow.id == GroupMembershipRow.group_id)
            .join(UserRow, UserRow.id == GroupMembershipRow.user_id)
            .where(UserRow.username == username)
            .where(or_(DirectoryGroupRow.dn.in_(groups), func.lower(DirectoryGroupRow.name).in_(groups)))
            .limit(1)
        )
        return (await self._session.execute(statement)).first() is not None

    async def announcement_channels(self) -> list[int]:
        statement = (
            select(ChannelRow.id).where(ChannelRow.kind == ChannelKind.ANNOUNCEMENT.value).order_by(ChannelRow.id)
        )
        return list((await self._session.execute(statement)).scalars())

    async def channels_with_group_memberships(self) -> set[int]:
        statement = select(MembershipRow.channel_id).where(MembershipRow.source == GROUP).distinct()
        return set((await self._session.execute(statement)).scalars())

    async def memberships(self, channel_id: int, only_user: int | None = None) -> dict[int, CurrentMembership]:
        statement = select(MembershipRow.user_id, MembershipRow.role, MembershipRow.source).where(
            MembershipRow.channel_id == channel_id
        )
        if only_user is not None:
            statement = statement.where(MembershipRow.user_id == only_user)
        return {
            row.user_id: CurrentMembership(Role(row.role), row.source == GROUP)
            for row in await self._session.execute(statement)
        }

    async def apply(self, channel_id: int, changes: BindingChanges, now: datetime) -> None:
        memberships = _table("memberships")
        added = [
            {"channel_id": channel_id, "user_id": user_id, "role": role.value, "source": GROUP, "created_at": now}
            for user_id, role in sorted(changes.add.items())
        ]
        for batch in chunks(added):
            await self._session.execute(insert(MembershipRow), list(batch))
        await self._follow(channel_id, sorted(changes.add), now)
        set_role = (
            update(memberships)
            .where(memberships.c.channel_id == channel_id, memberships.c.user_id == bindparam("member"))
            .values(role=bindparam("new_role"), source=bindparam("new_source"))
        )
        regrouped: list[dict[str, Any]] = [
            {"member": user_id, "new_role": role.value, "new_source": GROUP}
            for user_id, role in sorted(changes.set_group_role.items())
        ]
        demoted = [
            {"member": user_id, "new_role": Role.MEMBER.value, "new_source": MANUAL} for user_id in changes.demote
        ]
        for batch in chunks(regrouped + demoted):
            await self._session.execute(set_role, list(batch))
        for ids in chunks(changes.remove):
            await self._session.execute(
                delete(MembershipRow).where(MembershipRow.channel_id == channel_id, MembershipRow.user_id.in_(ids))
            )
            # The follow goes with the membership: no IM delivery from a channel one no longer belongs to.
            await self._session.execute(
                delete(ChannelFollowRow).where(
                    ChannelFollowRow.channel_id == channel_id, ChannelFollowRow.follower_id.in_(ids)
                )
            )

    async def everyone_joins(self, channel_id: int, now: datetime, only_user: int | None = None) -> list[int]:
        """Every active user becomes a member (manual) and a follower of an announcement channel."""
        active = select(UserRow.id).where(UserRow.active)
        if only_user is not None:
            active = active.where(UserRow.id == only_user)
        user_ids = set((await self._session.execute(active)).scalars())
        members = select(MembershipRow.user_id).where(MembershipRow.channel_id == channel_id)
        missing = sorted(user_ids - set((await self._session.execute(members)).scalars()))
        rows = [
            {
                "channel_id": channel_id,
                "user_id": user_id,
                "role": Role.MEMBER.value,
                "source": MANUAL,
                "created_at": now,
            }
            for user_id in missing
        ]
        for batch in chunks(rows):
            await self._session.execute(insert(MembershipRow), list(batch))
        await self._follow(channel_id, sorted(user_ids), now)
        return missing

    async def _follow(self, channel_id: int, user_ids: list[int], now: datetime) -> None:
        statement = conflict_insert(self._dialect_name, ChannelFollowRow).on_conflict_do_nothing(
            index_elements=[ChannelFollowRow.follower_id, ChannelFollowRow.channel_id]
        )
        rows = [{"follower_id": user_id, "channel_id": channel_id, "created_at": now} for user_id in user_ids]
        for batch in chunks(rows):
            await self._session.execute(statement, list(batch))
