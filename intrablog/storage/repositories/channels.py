"""Channels and who belongs to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import (
    Channel,
    ChannelKind,
    Membership,
    MembershipSource,
    MemberView,
    Role,
    User,
    Visibility,
)
from intrablog.errors import Conflict
from intrablog.storage.models import ChannelRow, MembershipRow, UserRow
from intrablog.storage.sql import AnyRow, conflict_insert

CHANNEL_COLUMNS = (
    ChannelRow.id,
    ChannelRow.name,
    ChannelRow.title,
    ChannelRow.description,
    ChannelRow.kind,
    ChannelRow.visibility,
    ChannelRow.created_at,
    ChannelRow.created_by,
)
MEMBERSHIP_COLUMNS = (MembershipRow.channel_id, MembershipRow.user_id, MembershipRow.role, MembershipRow.created_at)

# Every read or post in a channel starts here (services.access): built once, one round trip for both.
_CHANNEL_AND_MEMBERSHIP = (
    select(
        *CHANNEL_COLUMNS,
        MembershipRow.role.label("member_role"),
        MembershipRow.created_at.label("member_since"),
    )
    .outerjoin(
        MembershipRow,
        and_(MembershipRow.channel_id == ChannelRow.id, MembershipRow.user_id == bindparam("user_id", type_=Integer())),
    )
    .where(ChannelRow.name == bindparam("name", type_=String()))
)


def channel_from_row(row: AnyRow) -> Channel:
    return Channel(
        id=row.id,
        name=row.name,
        title=row.title,
        description=row.description,
        kind=ChannelKind(row.kind),
        visibility=Visibility(row.visibility),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def membership_from_row(row: AnyRow) -> Membership:
    return Membership(channel_id=row.channel_id, user_id=row.user_id, role=Role(row.role), created_at=row.created_at)


class SqlChannelRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def get(self, channel_id: int) -> Channel | None:
        statement = select(*CHANNEL_COLUMNS).where(ChannelRow.id == channel_id)
        row = (await self._session.execute(statement)).first()
        return channel_from_row(row) if row is not None else None

    async def by_name(self, name: str) -> Channel | None:
        statement = select(*CHANNEL_COLUMNS).where(ChannelRow.name == name)
        row = (await self._session.execute(statement)).first()
        return channel_from_row(row) if row is not None else None

    async def by_name_with_membership(self, name: str, user_id: int) -> tuple[Channel, Membership | None] | None:
        """The channel called ``name`` and ``user_id``'s membership of it, in one query; None if no such channel."""
        row = (await self._session.execute(_CHANNEL_AND_MEMBERSHIP, {"name": name, "user_id": user_id})).first()
        if row is None:
            return None
        membership = (
            Membership(channel_id=row.id, user_id=user_id, role=Role(row.member_role), created_at=row.member_since)
            if row.member_role is not None
            else None
        )
        return channel_from_row(row), membership

    async def add(
        self,
        name: str,
        title: str,
        description: str,
        kind: ChannelKind,
        visibility: Visibility,
        created_by: int | None,
        now: datetime,
    ) -> Channel:
        """Raises Conflict when the name is taken."""
        # DO NOTHING instead of catching IntegrityError: a failed INSERT would abort the whole PostgreSQL
        # transaction, and the caller's unit of work must stay usable after a Conflict.
        statement = (
            conflict_insert(self._dialect_name, ChannelRow)
            .values(
                name=name,
                title=title,
                description=description,
                kind=kind.value,
                visibility=visibility.value,
                created_by=created_by,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[ChannelRow.name])
            .returning(*CHANNEL_COLUMNS)
        )
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise Conflict(f"a channel named {name!r} already exists")
        return channel_from_row(row)

    async def visible_to(self, viewer: User) -> list[Channel]:
        """Public channels plus the private ones the viewer belongs to (all for site admins), by name."""
        statement = select(*CHANNEL_COLUMNS).order_by(ChannelRow.name)
        if not viewer.is_site_admin:
            member_of = select(MembershipRow.channel_id).where(MembershipRow.user_id == viewer.id)
            statement = statement.where(
                or_(ChannelRow.visibility == Visibility.PUBLIC.value, ChannelRow.id.in_(member_of))
            )
        return [channel_from_row(row) for row in await self._session.execute(statement)]

    async def membership(self, channel_id: int, user_id: int) -> Membership | None:
        statement = select(*MEMBERSHIP_COLUMNS).where(
            MembershipRow.channel_id == channel_id, MembershipRow.user_id == user_id
        )
        row = (await self._session.execute(statement)).first()
        return membership_from_row(row) if row is not None else None

    async def set_membership(self, channel_id: int, user_id: int, role: Role, now: datetime) -> Membership:
        """Join with ``role``, or change the role of a member (who keeps their original ``since``)."""
        statement = (
            conflict_insert(self._dialect_name, MembershipRow)
            .values(channel_id=channel_id, user_id=user_id, role=role.value, created_at=now)
            .on_conflict_do_update(
                index_elements=[MembershipRow.channel_id, MembershipRow.user_id], set_={"role": role.value}
            )
            .returning(*MEMBERSHIP_COLUMNS)
        )
        return membership_from_row((await self._session.execute(statement)).one())

    async def remove_membership(self, channel_id: int, user_id: int) -> bool:
        statement = (
            delete(MembershipRow)
            .where(MembershipRow.channel_id == channel_id, MembershipRow.user_id == user_id)
            .returning(MembershipRow.user_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def members(self, channel_id: int) -> list[MemberView]:
        """Members by username."""
        statement = (
            select(UserRow.username, UserRow.display_name, MembershipRow.role, MembershipRow.created_at)
            .add_columns(MembershipRow.source)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.channel_id == channel_id)
            .order_by(UserRow.username)
        )
        return [
            MemberView(
                username=row.username,
                display_name=row.display_name,
                role=Role(row.role),
                since=row.created_at,
                source=MembershipSource(row.source),
            )
            for row in await self._session.execute(statement)
        ]

    async def member_count(self, channel_id: int) -> int:
        statement = select(func.count()).select_from(MembershipRow).where(MembershipRow.channel_id == channel_id)
        return int((await self._session.execute(statement)).scalar_one())
