"""People: the mirror of directory entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.im import bare_jid
from intrablog.domain.model import DirectoryPerson, User
from intrablog.storage.models import UserFollowRow, UserRow
from intrablog.storage.sql import AnyRow, conflict_insert

USER_COLUMNS = (
    UserRow.id,
    UserRow.username,
    UserRow.display_name,
    UserRow.email,
    UserRow.xmpp_address,
    UserRow.active,
    UserRow.is_site_admin,
    UserRow.created_at,
    UserRow.last_seen_in_directory,
    UserRow.department,
)


def user_from_row(row: AnyRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        xmpp_address=row.xmpp_address,
        active=row.active,
        is_site_admin=row.is_site_admin,
        created_at=row.created_at,
        last_seen_in_directory=row.last_seen_in_directory,
        department=row.department,
    )


class SqlUserRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def get(self, user_id: int) -> User | None:
        row = (await self._session.execute(select(*USER_COLUMNS).where(UserRow.id == user_id))).first()
        return user_from_row(row) if row is not None else None

    async def by_username(self, username: str) -> User | None:
        row = (await self._session.execute(select(*USER_COLUMNS).where(UserRow.username == username))).first()
        return user_from_row(row) if row is not None else None

    async def by_usernames(self, usernames: Iterable[str]) -> list[User]:
        wanted = list(dict.fromkeys(usernames))
        if not wanted:
            return []
        rows = await self._session.execute(
            select(*USER_COLUMNS).where(UserRow.username.in_(wanted)).order_by(UserRow.username)
        )
        return [user_from_row(row) for row in rows]

    async def by_xmpp_address(self, address: str) -> User | None:
        """Addresses are stored as lower-cased bare JIDs, so this is an exact, indexed match."""
        statement = (
            select(*USER_COLUMNS)
            .where(UserRow.xmpp_address == bare_jid(address))
            # Shared addresses: the active holder, then the one the directory confirmed last.
            .order_by(UserRow.active.desc(), UserRow.last_seen_in_directory.desc().nulls_last(), UserRow.id.desc())
            .limit(1)
        )
        row = (await self._session.execute(statement)).first()
        return user_from_row(row) if row is not None else None

    async def upsert_from_directory(self, person: DirectoryPerson, is_site_admin: bool, now: datetime) -> User:
        # One statement: two concurrent first sign-ins of the same person cannot both insert.
        insert = conflict_insert(self._dialect_name, UserRow)
        refreshed = {
            "display_name": person.display_name,
            "email": person.email,
            "xmpp_address": stored_address(person.xmpp_address),
            "active": True,
            "is_site_admin": is_site_admin,
            "last_seen_in_directory": now,
            "department": person.department,
        }
        statement = (
            insert.values(username=person.username, created_at=now, **refreshed)
            .on_conflict_do_update(index_elements=[UserRow.username], set_=refreshed)
            .returning(*USER_COLUMNS)
        )
        return user_from_row((await self._session.execute(statement)).one())

    async def follower_count(self, user_id: int) -> int:
        """People following this person."""
        statement = select(func.count()).select_from(UserFollowRow).where(UserFollowRow.user_id == user_id)
        return int((await self._session.execute(statement)).scalar_one())

    async def following_count(self, user_id: int) -> int:
        """People this person follows (channels are counted by the channel pages, not here)."""
        statement = select(func.count()).select_from(UserFollowRow).where(UserFollowRow.follower_id == user_id)
        return int((await self._session.execute(statement)).scalar_one())


def stored_address(address: str | None) -> str | None:
    """Stored as the lower-cased bare JID: the form inbound stanzas are looked up by."""
    return (bare_jid(address) or None) if address is not None else None
