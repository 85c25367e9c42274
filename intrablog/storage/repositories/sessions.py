"""Signed-in sessions and API tokens, known only by the hash of their token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import Session
from intrablog.storage.models import SessionRow, UserRow
from intrablog.storage.repositories.users import USER_COLUMNS, user_from_row
from intrablog.storage.types import UTCDateTime

# Every authenticated request runs it: built once, with the hash and the time as parameters.
_LIVE_SESSION = (
    select(SessionRow.token_hash, SessionRow.created_at, SessionRow.expires_at, *USER_COLUMNS)
    .join(UserRow, UserRow.id == SessionRow.user_id)
    .where(
        SessionRow.token_hash == bindparam("token_hash", type_=String()),
        SessionRow.revoked_at.is_(None),
        SessionRow.expires_at > bindparam("now", type_=UTCDateTime()),
    )
)


class SqlSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token_hash: str, user_id: int, created_at: datetime, expires_at: datetime) -> None:
        await self._session.execute(
            insert(SessionRow).values(
                token_hash=token_hash, user_id=user_id, created_at=created_at, expires_at=expires_at
            )
        )

    async def get(self, token_hash: str, now: datetime) -> Session | None:
        """The live session for this hash (not expired, not revoked), or None."""
        row = (await self._session.execute(_LIVE_SESSION, {"token_hash": token_hash, "now": now})).first()
        if row is None:
            return None
        return Session(
            token_hash=row.token_hash, user=user_from_row(row), created_at=row.created_at, expires_at=row.expires_at
        )

    async def revoke_all_of(self, user_ids: Sequence[int], now: datetime) -> int:
        revoked = 0
        for start in range(0, len(user_ids), 1000):
            statement = (
                update(SessionRow)
                .where(SessionRow.user_id.in_(user_ids[start : start + 1000]), SessionRow.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(SessionRow.token_hash)
            )
            revoked += len((await self._session.execute(statement)).all())
        return revoked

    async def revoke(self, token_hash: str, now: datetime) -> bool:
        """True when a live session was revoked now; revoking twice keeps the first time."""
        statement = (
            update(SessionRow)
            .where(SessionRow.token_hash == token_hash, SessionRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(SessionRow.token_hash)
        )
        return (await self._session.execute(statement)).first() is not None
