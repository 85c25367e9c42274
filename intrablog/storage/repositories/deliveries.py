"""Deliveries: one row per (recipient, item) on IM and the states the outbound worker moves it through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.im import (
    Delivery,
    DeliveryReason,
    DeliveryState,
    DirectMessage,
    PostAudience,
)
from intrablog.domain.model import Visibility
from intrablog.storage.models import ChannelRow, DeliveryRow, MembershipRow, PostRow, TrackedWordRow, UserRow
from intrablog.storage.repositories.delivery_expansion import UNSILENCED, message_delivery, post_deliveries
from intrablog.storage.repositories.messages import load_messages
from intrablog.storage.repositories.post_loading import IDS_PER_QUERY, load_posts, select_posts
from intrablog.storage.sql import AnyRow, AnySelect, id_list, in_id_list

_DELIVERY_COLUMNS = (
    DeliveryRow.id,
    DeliveryRow.recipient_id,
    DeliveryRow.post_id,
    DeliveryRow.message_id,
    DeliveryRow.reason,
    DeliveryRow.state,
    DeliveryRow.origin_id,
    DeliveryRow.created_at,
    DeliveryRow.sent_at,
    DeliveryRow.receipt_at,
    UserRow.username.label("recipient_username"),
    UserRow.xmpp_address.label("recipient_jid"),
)
# Up to this many candidate words go straight into the expansion's INSERT (a normal post has a few dozen).
_INLINE_WORDS = 1_000


def _undeliverable() -> ColumnElement[bool]:
    """True for a delivery that must not go out any more (the rule DeliveryState.DROPPED documents).

    Read rights are checked again at send time, with the predicate expansion used: someone who left a
    private channel after a post was queued no longer receives it.
    """
    private_channels = select(ChannelRow.id).where(ChannelRow.visibility == Visibility.PRIVATE.value)
    still_member = exists().where(
        MembershipRow.channel_id == PostRow.channel_id, MembershipRow.user_id == DeliveryRow.recipient_id
    )
    return or_(
        UserRow.active != true(),
        UserRow.xmpp_address.is_(None),
        and_(UserRow.im_enabled != true(), DeliveryRow.reason.not_in([reason.value for reason in UNSILENCED])),
        PostRow.deleted_at.is_not(None),
        and_(
            PostRow.channel_id.in_(private_channels),
            UserRow.is_site_admin != true(),
            not_(still_member),
        ),
    )


def _select_deliveries(*extra: Any) -> AnySelect:
    return (
        select(*_DELIVERY_COLUMNS, *extra)
        .select_from(DeliveryRow)
        .join(UserRow, UserRow.id == DeliveryRow.recipient_id)
        .outerjoin(PostRow, PostRow.id == DeliveryRow.post_id)
    )


class SqlDeliveryRepository:
    def __init__(self, session: AsyncSession, dialect_name: str) -> None:
        self._session = session
        self._dialect_name = dialect_name

    async def add_for_post(self, audience: PostAudience, now: datetime) -> int:
        if len(audience.words) > _INLINE_WORDS:
            # A very long post (max_post_chars allows 100,000) could offer more words than a statement may
            # bind (about 32,000 on both drivers): keep only the words someone tracks, looked up in chunks.
            audience = replace(audience, words=await self._tracked_among(audience.words))
        result: Any = await self._session.execute(post_deliveries(self._dialect_name, audience, now))
        return max(int(result.rowcount), 0)

    async def _tracked_among(self, words: frozenset[str]) -> frozenset[str]:
        candidates = sorted(words)
        tracked: set[str] = set()
        for start in range(0, len(candidates), IDS_PER_QUERY):
            chunk = candidates[start : start + IDS_PER_QUERY]
            statement = select(TrackedWordRow.word).where(TrackedWordRow.word.in_(chunk)).distinct()
            tracked.update((await self._session.execute(statement)).scalars())
        return frozenset(tracked)

    async def add_for_message(self, message: DirectMessage, origin_id: str, now: datetime) -> int:
        result: Any = await self._session.execute(message_delivery(self._dialect_name, message, origin_id, now))
        return max(int(result.rowcount), 0)

    async def pending(self, limit: int, after: int = 0) -> list[Delivery]:
        """PENDING in id order, loaded; undeliverable ones are marked DROPPED on the way and left out.

        Reads windows of the (state, id) index after the last row seen, so rows dropped in one window are
        replaced by the next ones and the answer is full whenever enough deliverable rows wait.
        """
        kept: list[AnyRow] = []
        while len(kept) < limit:
            statement = self._pending_window(after, limit - len(kept))
            rows = (await self._session.execute(statement)).all()
            if not rows:
                break
            dropped = [row.id for row in rows if row.undeliverable]
            kept += [row for row in rows if not row.undeliverable]
            after = rows[-1].id
            if not dropped:
                break
            await self._set_state(dropped, DeliveryState.DROPPED, only_from=(DeliveryState.PENDING,))
        return await self._loaded(kept)

    def _pending_window(self, after: int, limit: int) -> AnySelect:
        """The next ``limit`` PENDING rows after ``after`` in id order, each flagged when undeliverable."""
        columns = _select_deliveries(_undeliverable().label("undeliverable"))
        pending = (DeliveryRow.state == DeliveryState.PENDING.value, DeliveryRow.id > after)
        if self._dialect_name != "postgresql":
            # SQLite walks the (state, id) index in order and stops at the limit.
            return columns.where(*pending).order_by(DeliveryRow.id).limit(limit)
        # PostgreSQL: the window's ids first, on their own. In one query its planner, with statistics from
        # before an expansion of thousands of rows, joins and sorts every PENDING row to return the first
        # few (30 ms a call instead of 1 just after a 10,000-person announcement).
        window = select(DeliveryRow.id).where(*pending).order_by(DeliveryRow.id).limit(limit).subquery("window")
        return columns.join(window, window.c.id == DeliveryRow.id).order_by(DeliveryRow.id)

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        # A resend (after a missing receipt) marks SENT again: sent_at moves on, so the next check waits anew.
        await self._set_state(
            ids, DeliveryState.SENT, only_from=(DeliveryState.PENDING, DeliveryState.SENT), sent_at=now
        )

    async def mark_held(self, ids: Sequence[int]) -> None:
        await self._set_state(ids, DeliveryState.HELD, only_from=(DeliveryState.PENDING,))

    async def requeue(self, ids: Sequence[int]) -> None:
        # The row, and so its origin-id, stays the same: a client that got the first copy can tell.
        await self._set_state(
            ids, DeliveryState.PENDING, only_from=(DeliveryState.SENT, DeliveryState.HELD), sent_at=None
        )

    async def summarise_held(self, recipient_id: int) -> int:
        statement = (
            update(DeliveryRow)
            .where(DeliveryRow.recipient_id == recipient_id, DeliveryRow.state == DeliveryState.HELD.value)
            .values(state=DeliveryState.SUMMARISED.value)
            .returning(DeliveryRow.id)
        )
        return len((await self._session.execute(statement)).all())

    async def record_receipt(self, recipient_id: int, origin_id: str, now: datetime) -> bool:
        statement = (
            update(DeliveryRow)
            .where(DeliveryRow.recipient_id == recipient_id, DeliveryRow.origin_id == origin_id)
            # A repeated receipt (a resend, a second client) keeps the first time.
            .values(receipt_at=func.coalesce(DeliveryRow.receipt_at, now))
            .returning(DeliveryRow.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def record_receipts(self, recipient_id: int, origin_ids: Sequence[str], now: datetime) -> int:
        # One statement per chunk, not one per receipt: receipts arrive as fast as the bridge sends.
        matched = 0
        for start in range(0, len(origin_ids), IDS_PER_QUERY):
            chunk = list(origin_ids[start : start + IDS_PER_QUERY])
            statement = (
                update(DeliveryRow)
                .where(DeliveryRow.recipient_id == recipient_id, DeliveryRow.origin_id.in_(chunk))
                .values(receipt_at=func.coalesce(DeliveryRow.receipt_at, now))
                .returning(DeliveryRow.id)
            )
            matched += len((await self._session.execute(statement)).all())
        return matched

    async def unreceipted(
        self, recipient_id: int, sent_before: datetime, sent_since: datetime | None = None
    ) -> list[Delivery]:
        statement = (
            _select_deliveries()
            .where(
                DeliveryRow.recipient_id == recipient_id,
                DeliveryRow.state == DeliveryState.SENT.value,
                DeliveryRow.receipt_at.is_(None),
                DeliveryRow.sent_at < sent_before,
                # A post deleted since is not sent again.
                PostRow.deleted_at.is_(None),
            )
            .order_by(DeliveryRow.id)
        )
        if sent_since is not None:
            statement = statement.where(DeliveryRow.sent_at >= sent_since)
        return await self._loaded((await self._session.execute(statement)).all())

    async def pending_count(self) -> int:
        statement = (
            select(func.count()).select_from(DeliveryRow).where(DeliveryRow.state == DeliveryState.PENDING.value)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def _set_state(
        self, ids: Sequence[int], state: DeliveryState, *, only_from: tuple[DeliveryState, ...], **values: Any
    ) -> None:
        """Move rows to ``state``; rows in any state but ``only_from`` are left alone (a late call after a
        summary or a drop changes nothing)."""
        allowed = [each.value for each in only_from]
        # The ids as one parameter: the statement is compiled once, whatever the number of ids (the worker
        # records a few dozen at a time, and an expanding IN would be rendered anew for each count).
        statement = (
            update(DeliveryRow)
            .where(in_id_list(DeliveryRow.id, id_list("ids")), DeliveryRow.state.in_(allowed))
            .values(state=state.value, **values)
            # Nothing of these rows is in the session: no RETURNING to keep it in sync.
            .execution_options(synchronize_session=False)
        )
        for start in range(0, len(ids), IDS_PER_QUERY):
            await self._session.execute(statement, {"ids": list(ids[start : start + IDS_PER_QUERY])})

    async def _loaded(self, rows: Sequence[AnyRow]) -> list[Delivery]:
        """Deliveries with their posts and messages: two batch queries whatever the number of rows."""
        post_ids = [row.post_id for row in rows if row.post_id is not None]
        message_ids = [row.message_id for row in rows if row.message_id is not None]
        posts = {}
        for start in range(0, len(post_ids), IDS_PER_QUERY):
            chunk = post_ids[start : start + IDS_PER_QUERY]
            posts.update(
                {post.id: post for post in await load_posts(self._session, select_posts().where(PostRow.id.in_(chunk)))}
            )
        messages = await load_messages(self._session, message_ids) if message_ids else {}
        return [
            Delivery(
                id=row.id,
                recipient_id=row.recipient_id,
                recipient_username=row.recipient_username,
                recipient_jid=row.recipient_jid or "",
                reason=DeliveryReason(row.reason),
                state=DeliveryState(row.state),
                origin_id=row.origin_id,
                created_at=row.created_at,
                post=posts.get(row.post_id) if row.post_id is not None else None,
                direct_message=messages.get(row.message_id) if row.message_id is not None else None,
                receipt_at=row.receipt_at,
                sent_at=row.sent_at,
            )
            for row in rows
        ]
