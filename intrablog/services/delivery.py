"""IM delivery for the bridge's outbound worker: outbox → deliveries → sent, held, summarised, receipted.

The worker owns presence and the XMPP connection; this module owns what is stored. Each call is one
transaction, so a crash between calls loses nothing: an item is either still in the outbox, or a delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from intrablog.domain.im import (
    Delivery,
    HeldSummary,
    bare_jid,
    origin_id_for_message,
    post_audience,
)
from intrablog.domain.model import Channel
from intrablog.domain.ports import UnitOfWork
from intrablog.services.context import ServiceContext

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def expand_outbox(self, limit: int = 100) -> int:
        """Turn up to ``limit`` outbox rows, oldest first, into deliveries; returns how many rows were processed.

        One transaction: the deliveries and the "processed" marks commit together, and a crash before the
        commit leaves the rows to expand again (the unique (recipient, origin-id) key makes that harmless).
        Each row costs one set-based INSERT whatever its audience, plus a few batch reads per call.
        """
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            items = await uow.outbox.claim(limit)
            if not items:
                return 0
            posts = {post.id: post for post in await uow.posts.get_many([i.post_id for i in items if i.post_id])}
            messages = {
                message.id: message
                for message in await uow.messages.get_many([i.message_id for i in items if i.message_id])
            }
            channels: dict[int, Channel | None] = {}
            queued = 0
            for item in items:
                if item.post_id is not None:
                    post = posts.get(item.post_id)
                    if post is None or post.deleted_at is not None:
                        continue  # deleted before it was expanded: nobody gets it
                    channel = await _channel(uow, channels, post.channel_id)
                    queued += await uow.deliveries.add_for_post(post_audience(post, channel), now)
                elif item.message_id is not None and (message := messages.get(item.message_id)) is not None:
                    queued += await uow.deliveries.add_for_message(message, origin_id_for_message(message.id), now)
            await uow.outbox.mark_processed([item.id for item in items], now)
            await uow.commit()
        log.debug("outbox expanded", extra={"outbox_rows": len(items), "deliveries": queued})
        return len(items)

    async def pending(self, limit: int, after: int = 0) -> list[Delivery]:
        """PENDING deliveries in id order, each with its post (author, channel name) or direct message.
        ``after``: only ids above it (the worker reads the next batch while the last is still PENDING).

        Deliveries that can no longer go out are marked DROPPED here and left out: the recipient became
        inactive, lost their IM address or switched IM off (announcements excepted), or the post was deleted
        or its private channel left.
        """
        async with self._ctx.database.unit_of_work() as uow:
            deliveries = await uow.deliveries.pending(limit, after)
            await uow.commit()
        return deliveries

    async def mark_sent(self, ids: Sequence[int]) -> None:
        """The server confirmed these (its answer to the ping after their batch)."""
        await self._write(lambda uow: uow.deliveries.mark_sent(ids, self._ctx.clock.now()))

    async def mark_held(self, ids: Sequence[int]) -> None:
        """Presence holds these back until the person is available again (then see release_held)."""
        await self._write(lambda uow: uow.deliveries.mark_held(ids))

    async def mark(self, *, sent: Sequence[int], held: Sequence[int]) -> None:
        """``mark_sent`` and ``mark_held`` in one transaction: the worker records several batches at once."""
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            if sent:
                await uow.deliveries.mark_sent(sent, now)
            if held:
                await uow.deliveries.mark_held(held)
            await uow.commit()

    async def requeue(self, ids: Sequence[int]) -> None:
        """Back to PENDING (held or sent but never receipted), keeping their origin-ids."""
        await self._write(lambda uow: uow.deliveries.requeue(ids))

    async def release_held(self, user_id: int) -> HeldSummary | None:
        """Everything held for this person becomes one summary line instead of a flood; None if nothing was."""
        async with self._ctx.database.unit_of_work() as uow:
            count = await uow.deliveries.summarise_held(user_id)
            await uow.commit()
        return HeldSummary(count=count, url=f"{self._ctx.policy.public_url}/") if count else None

    async def record_receipt(self, recipient_jid: str, origin_id: str) -> bool:
        """An XEP-0184 receipt: True when it matched a delivery to that person."""
        async with self._ctx.database.unit_of_work() as uow:
            recipient = await uow.users.by_xmpp_address(bare_jid(recipient_jid))
            if recipient is None:
                return False
            matched = await uow.deliveries.record_receipt(recipient.id, origin_id, self._ctx.clock.now())
            await uow.commit()
        return matched

    async def record_receipts(self, receipts: Sequence[tuple[str, str]]) -> int:
        """Many receipts, (recipient JID, origin-id) each, in one transaction; returns how many matched.

        Every message the bridge sends asks for a receipt, so they arrive as fast as messages go out: one
        transaction (or statement) each would cost the bridge more than the sending itself.
        """
        by_address: dict[str, list[str]] = {}
        for jid, origin_id in receipts:
            by_address.setdefault(bare_jid(jid), []).append(origin_id)
        matched = 0
        async with self._ctx.database.unit_of_work() as uow:
            for address, origin_ids in by_address.items():
                recipient = await uow.users.by_xmpp_address(address)
                if recipient is not None:
                    matched += await uow.deliveries.record_receipts(recipient.id, origin_ids, self._ctx.clock.now())
            await uow.commit()
        return matched

    async def unreceipted(
        self, user_id: int, sent_before: datetime, sent_since: datetime | None = None
    ) -> list[Delivery]:
        """SENT to this person before ``sent_before`` (and from ``sent_since`` on) and never receipted, in id
        order: the resend candidates."""
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.deliveries.unreceipted(user_id, sent_before, sent_since)

    async def backlog(self) -> int:
        """Unexpanded outbox rows plus PENDING deliveries."""
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.outbox.unprocessed_count() + await uow.deliveries.pending_count()

    async def _write(self, change: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        async with self._ctx.database.unit_of_work() as uow:
            await change(uow)
            await uow.commit()


async def _channel(uow: UnitOfWork, cache: dict[int, Channel | None], channel_id: int | None) -> Channel | None:
    if channel_id is None:
        return None
    if channel_id not in cache:
        cache[channel_id] = await uow.channels.get(channel_id)
    return cache[channel_id]
