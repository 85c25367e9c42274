"""The outbox: what the bridge must deliver, one row per post or direct message."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.im import OutboxItem, OutboxKind
from intrablog.storage.models import OutboxRow
from intrablog.storage.repositories.post_loading import IDS_PER_QUERY

# Every new post writes one: built once (a Core insert on the table, compiled once per backend).
_INSERT_POST = insert(cast(Table, OutboxRow.__table__)).values(kind=OutboxKind.POST.value)


class SqlOutboxRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def add_post(self, post_id: int, now: datetime) -> None:
        await self._session.execute(_INSERT_POST, {"post_id": post_id, "created_at": now})

    async def add_direct_message(self, message_id: int, now: datetime) -> None:
        await self._session.execute(
            insert(OutboxRow).values(kind=OutboxKind.DIRECT_MESSAGE.value, message_id=message_id, created_at=now)
        )

    async def claim(self, limit: int) -> list[OutboxItem]:
        """Unprocessed rows in id order.

        On PostgreSQL the rows stay locked until the transaction ends and a second expander skips them, so
        two bridges (or a restart overlapping a shutdown) share the work instead of repeating it. SQLite has
        a single writer; there, overlapping expansions are harmless because deliveries are idempotent.
        """
        statement = (
            select(OutboxRow.id, OutboxRow.kind, OutboxRow.post_id, OutboxRow.message_id)
            .where(OutboxRow.processed_at.is_(None))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if self._dialect_name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return [
            OutboxItem(id=row.id, kind=OutboxKind(row.kind), post_id=row.post_id, message_id=row.message_id)
            for row in await self._session.execute(statement)
        ]

    async def mark_processed(self, ids: Sequence[int], now: datetime) -> None:
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = list(ids[start : start + IDS_PER_QUERY])
            await self._session.execute(update(OutboxRow).where(OutboxRow.id.in_(chunk)).values(processed_at=now))

    async def unprocessed_count(self) -> int:
        statement = select(func.count()).select_from(OutboxRow).where(OutboxRow.processed_at.is_(None))
        return int((await self._session.execute(statement)).scalar_one())
