"""The audit log: one row per recorded change, details as a JSON object in a text column."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import AuditEntry, PageRequest, User
from intrablog.storage.models import AuditEntryRow, UserRow
from intrablog.storage.sql import chunks

MAX_ENTRY_ID = 2**31 - 1


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, at: datetime, actor: User | None, action: str, subject: str, details: Mapping[str, Any]
    ) -> None:
        await self._session.execute(
            insert(AuditEntryRow).values(
                at=at,
                actor_id=actor.id if actor is not None else None,
                actor=actor.username if actor is not None else None,
                action=action,
                subject=subject,
                # Sorted keys: the same change always reads the same, whichever code path wrote it.
                details=json.dumps(dict(details), sort_keys=True, ensure_ascii=False),
            )
        )

    async def page(self, page: PageRequest, action: str | None = None) -> list[AuditEntry]:
        statement = select(
            AuditEntryRow.id,
            AuditEntryRow.at,
            AuditEntryRow.actor,
            AuditEntryRow.action,
            AuditEntryRow.subject,
            AuditEntryRow.details,
        )
        # Ids are a 32-bit INTEGER column: a cursor beyond them all is no bound (and PostgreSQL refuses it).
        if page.before is not None and page.before <= MAX_ENTRY_ID:
            statement = statement.where(AuditEntryRow.id < page.before)
        if action is not None:
            if action.endswith("."):
                # autoescape: "_" and "%" in a filter are letters, not LIKE wildcards.
                statement = statement.where(AuditEntryRow.action.startswith(action, autoescape=True))
            else:
                statement = statement.where(AuditEntryRow.action == action)
        statement = statement.order_by(AuditEntryRow.id.desc()).limit(page.limit)
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                details=_details(row.details),
            )
            for row in await self._session.execute(statement)
        ]

    async def usernames(self, user_ids: Collection[int]) -> dict[int, str]:
        wanted = sorted(set(user_ids))
        found: dict[int, str] = {}
        for ids in chunks(wanted):
            rows = await self._session.execute(select(UserRow.id, UserRow.username).where(UserRow.id.in_(ids)))
            found.update({row.id: row.username for row in rows})
        return found


def _details(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    # Only this repository writes the column, always an object; anything else would be a hand edit.
    return value if isinstance(value, dict) else {"value": value}
