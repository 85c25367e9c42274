"""Direct messages: a table of their own, so they can never leak into timelines, feeds or search."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from intrablog.domain.im import DirectMessage, NewDirectMessage
from intrablog.domain.model import AuthorView, PageRequest
from intrablog.storage.models import DirectMessageRow, UserRow
from intrablog.storage.repositories.post_loading import IDS_PER_QUERY
from intrablog.storage.sql import AnyRow, AnySelect

_Sender = aliased(UserRow, name="sender")
_Recipient = aliased(UserRow, name="recipient")


def select_messages() -> AnySelect:
    """Direct messages with the names of both people."""
    return (
        select(
            DirectMessageRow.id,
            DirectMessageRow.sender_id,
            DirectMessageRow.recipient_id,
            DirectMessageRow.text,
            DirectMessageRow.created_at,
            _Sender.username.label("sender_username"),
            _Sender.display_name.label("sender_display_name"),
            _Recipient.username.label("recipient_username"),
            _Recipient.display_name.label("recipient_display_name"),
        )
        .select_from(DirectMessageRow)
        .join(_Sender, _Sender.id == DirectMessageRow.sender_id)
        .join(_Recipient, _Recipient.id == DirectMessageRow.recipient_id)
    )


def message_from_row(row: AnyRow) -> DirectMessage:
    return DirectMessage(
        id=row.id,
        sender=AuthorView(username=row.sender_username, display_name=row.sender_display_name),
        sender_id=row.sender_id,
        recipient=AuthorView(username=row.recipient_username, display_name=row.recipient_display_name),
        recipient_id=row.recipient_id,
        text=row.text,
        created_at=row.created_at,
    )


async def load_messages(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, DirectMessage]:
    messages: dict[int, DirectMessage] = {}
    wanted = sorted(set(message_ids))
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        for row in await session.execute(select_messages().where(DirectMessageRow.id.in_(chunk))):
            messages[row.id] = message_from_row(row)
    return messages


class SqlDirectMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: NewDirectMessage) -> DirectMessage:
        await self._session.execute(
            insert(DirectMessageRow).values(
                id=message.id,
                sender_id=message.sender_id,
                recipient_id=message.recipient_id,
                text=message.text,
                created_at=message.created_at,
            )
        )
        return (await load_messages(self._session, [message.id]))[message.id]

    async def get_many(self, message_ids: Sequence[int]) -> list[DirectMessage]:
        loaded = await load_messages(self._session, message_ids)
        return [loaded[message_id] for message_id in sorted(loaded)]

    async def conversation(self, user_id: int, other_id: int, page: PageRequest) -> list[DirectMessage]:
        """Newest first. Each direction is its own limited walk of the (sender, recipient, id) index; the two
        short lists are then merged, which beats an OR that would read both directions whole and sort them."""
        directions = [
            self._direction(sender, recipient, page) for sender, recipient in ((user_id, other_id), (other_id, user_id))
        ]
        both = union_all(*directions).subquery()
        statement = (
            select_messages()
            .where(DirectMessageRow.id.in_(select(both.c.id)))
            .order_by(DirectMessageRow.id.desc())
            .limit(page.limit)
        )
        return [message_from_row(row) for row in await self._session.execute(statement)]

    @staticmethod
    def _direction(sender_id: int, recipient_id: int, page: PageRequest) -> AnySelect:
        statement = select(DirectMessageRow.id).where(
            DirectMessageRow.sender_id == sender_id, DirectMessageRow.recipient_id == recipient_id
        )
        if page.before is not None:
            statement = statement.where(DirectMessageRow.id < page.before)
        # Wrapped: SQLite refuses ORDER BY/LIMIT directly on a member of a compound SELECT.
        inner = statement.order_by(DirectMessageRow.id.desc()).limit(page.limit).subquery()
        return select(inner.c.id)

    async def latest_per_counterpart(self, user_id: int) -> list[tuple[AuthorView, DirectMessage]]:
        sent = select(DirectMessageRow.recipient_id.label("counterpart"), DirectMessageRow.id.label("id")).where(
            DirectMessageRow.sender_id == user_id
        )
        received = select(DirectMessageRow.sender_id.label("counterpart"), DirectMessageRow.id.label("id")).where(
            DirectMessageRow.recipient_id == user_id
        )
        exchanged = union_all(sent, received).subquery()
        latest = select(func.max(exchanged.c.id)).group_by(exchanged.c.counterpart)
        statement = select_messages().where(DirectMessageRow.id.in_(latest)).order_by(DirectMessageRow.id.desc())
        conversations: list[tuple[AuthorView, DirectMessage]] = []
        for row in await self._session.execute(statement):
            message = message_from_row(row)
            counterpart = message.recipient if message.sender_id == user_id else message.sender
            conversations.append((counterpart, message))
        return conversations
