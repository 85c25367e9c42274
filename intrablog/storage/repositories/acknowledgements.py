"""Acknowledgements of announcements, and the one reminder round per announcement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, not_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.model import Acknowledgement, ChannelKind, PendingAcknowledgement, Post, User
from intrablog.storage.models import AcknowledgementRow, AckReminderRow, ChannelRow, PostRow, UserRow
from intrablog.storage.repositories.delivery_expansion import reminder_deliveries
from intrablog.storage.repositories.post_loading import IDS_PER_QUERY, load_posts, select_posts
from intrablog.storage.sql import AnyRow, AnySelect, conflict_insert
from intrablog.storage.visibility import readable_by


def _select_acknowledgements() -> AnySelect:
    return select(
        AcknowledgementRow.post_id,
        AcknowledgementRow.at,
        AcknowledgementRow.via,
        UserRow.username,
        UserRow.display_name,
        UserRow.department,
    ).join(UserRow, UserRow.id == AcknowledgementRow.user_id)


def _acknowledgement(row: AnyRow) -> Acknowledgement:
    return Acknowledgement(
        post_id=row.post_id,
        username=row.username,
        display_name=row.display_name,
        department=row.department,
        at=row.at,
        via=row.via,
    )


def _announcement_posts() -> Any:
    """Posts of announcement channels, through the (channel_id, id) index: only those may ask for it."""
    channels = select(ChannelRow.id).where(ChannelRow.kind == ChannelKind.ANNOUNCEMENT.value)
    return PostRow.channel_id.in_(channels)


class SqlAcknowledgementRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def add(self, post_id: int, user_id: int, at: datetime, via: str) -> bool:
        # One statement, no read first: two clicks (or the web and IM at once) cannot both insert.
        statement = (
            conflict_insert(self._dialect_name, AcknowledgementRow)
            .values(post_id=post_id, user_id=user_id, at=at, via=via)
            .on_conflict_do_nothing(index_elements=[AcknowledgementRow.post_id, AcknowledgementRow.user_id])
        )
        result: Any = await self._session.execute(statement)
        return int(result.rowcount) > 0

    async def get(self, post_id: int, user_id: int) -> Acknowledgement | None:
        statement = _select_acknowledgements().where(
            AcknowledgementRow.post_id == post_id, AcknowledgementRow.user_id == user_id
        )
        row = (await self._session.execute(statement)).first()
        return _acknowledgement(row) if row is not None else None

    async def by_user(self, user_id: int, post_ids: Sequence[int]) -> list[Acknowledgement]:
        wanted = sorted(set(post_ids))
        found: list[Acknowledgement] = []
        for start in range(0, len(wanted), IDS_PER_QUERY):
            statement = _select_acknowledgements().where(
                AcknowledgementRow.user_id == user_id,
                AcknowledgementRow.post_id.in_(wanted[start : start + IDS_PER_QUERY]),
            )
            found += [_acknowledgement(row) for row in await self._session.execute(statement)]
        return found

    async def of_post(self, post_id: int) -> list[Acknowledgement]:
        statement = (
            _select_acknowledgements()
            .where(AcknowledgementRow.post_id == post_id)
            .order_by(AcknowledgementRow.at, UserRow.username)
        )
        return [_acknowledgement(row) for row in await self._session.execute(statement)]

    async def pending(self, post_id: int, author_id: int) -> list[PendingAcknowledgement]:
        statement = (
            select(UserRow.username, UserRow.display_name, UserRow.department)
            .where(*_pending_people(post_id, author_id))
            .order_by(UserRow.username)
        )
        return [
            PendingAcknowledgement(username=row.username, display_name=row.display_name, department=row.department)
            for row in await self._session.execute(statement)
        ]

    async def unacknowledged_by(self, viewer: User, limit: int) -> list[Post]:
        acknowledged = exists().where(AcknowledgementRow.post_id == PostRow.id, AcknowledgementRow.user_id == viewer.id)
        statement = (
            select_posts()
            .where(
                _announcement_posts(),
                PostRow.requires_ack == true(),
                PostRow.author_id != viewer.id,
                readable_by(viewer),
                not_(acknowledged),
            )
            .order_by(PostRow.id.desc())
            .limit(limit)
        )
        return await load_posts(self._session, statement)

    async def due_for_reminder(self, created_before: datetime) -> list[tuple[int, int]]:
        reminded = exists().where(AckReminderRow.post_id == PostRow.id)
        statement = (
            select(PostRow.id, PostRow.author_id)
            .where(
                _announcement_posts(),
                PostRow.requires_ack == true(),
                PostRow.deleted_at.is_(None),
                PostRow.created_at <= created_before,
                not_(reminded),
            )
            .order_by(PostRow.id)
        )
        return [(row.id, row.author_id) for row in await self._session.execute(statement)]

    async def claim_reminder(self, post_id: int, now: datetime) -> bool:
        statement = (
            conflict_insert(self._dialect_name, AckReminderRow)
            .values(post_id=post_id, sent_at=now, reminded=0)
            .on_conflict_do_nothing(index_elements=[AckReminderRow.post_id])
        )
        result: Any = await self._session.execute(statement)
        return int(result.rowcount) > 0

    async def remind(self, post_id: int, author_id: int, origin_id: str, now: datetime) -> list[int]:
        pending = _pending_people(post_id, author_id)
        people = select(UserRow.id).where(*pending).order_by(UserRow.id)
        user_ids = list((await self._session.execute(people)).scalars())
        if user_ids:
            await self._session.execute(reminder_deliveries(self._dialect_name, post_id, pending, origin_id, now))
        await self._session.execute(
            update(AckReminderRow).where(AckReminderRow.post_id == post_id).values(reminded=len(user_ids))
        )
        return user_ids


def _pending_people(post_id: int, author_id: int) -> tuple[Any, ...]:
    """Everyone asked (every active person; an announcement channel has them all) but the author, minus
    those who acknowledged."""
    acknowledged = exists().where(AcknowledgementRow.post_id == post_id, AcknowledgementRow.user_id == UserRow.id)
    return (UserRow.active == true(), UserRow.id != author_id, not_(acknowledged))
