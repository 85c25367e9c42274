"""Announcements that ask for acknowledgement: acknowledging, the report, what is pending, the reminder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from intrablog.domain import rules
from intrablog.domain.announcements import by_department, check_door, order_pending, reminder_cutoff
from intrablog.domain.events import AckReminderDue, AnnouncementAcknowledged
from intrablog.domain.im import origin_id_for_reminder
from intrablog.domain.model import Acknowledgement, AckReport, Post, User
from intrablog.errors import Conflict, Forbidden
from intrablog.services.access import readable_post
from intrablog.services.context import ServiceContext

log = logging.getLogger(__name__)
# People named by one AckReminderDue event (about 4 kB of JSON at most).
REMINDER_EVENT_SLICE = 400


def _does_not_ask(post_id: int) -> Conflict:
    return Conflict(f"post {post_id} does not ask for acknowledgement")


class AnnouncementService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def acknowledge(self, user: User, post_id: int, via: Literal["web", "im"]) -> Acknowledgement:
        """Record that ``user`` read the announcement. Idempotent: acknowledging again changes nothing and
        answers the first acknowledgement (its time and door).

        NotFound when the user may not read the post; Conflict when it does not ask for acknowledgement or
        the user wrote it.
        """
        check_door(via)
        async with self._ctx.database.unit_of_work() as uow:
            post = await readable_post(uow, user, post_id)
            if not post.requires_ack:
                raise _does_not_ask(post.id)
            if post.author_id == user.id:
                raise Conflict(f"post {post.id} is your own announcement: its author need not acknowledge it")
            new = await uow.acknowledgements.add(post.id, user.id, self._ctx.clock.now(), via)
            acknowledgement = await uow.acknowledgements.get(post.id, user.id)
            await uow.commit()
        if acknowledgement is None:  # the row was just written or found in this very transaction
            raise RuntimeError(f"acknowledgement of post {post.id} by {user.username} vanished")
        if new:
            await self._ctx.events.publish(AnnouncementAcknowledged(acknowledgement, user.id, post.author_id))
        return acknowledgement

    async def report(self, viewer: User, post_id: int) -> AckReport:
        """Who acknowledged (oldest first) and who not yet (by department, then username), with counts by
        department. Everyone asked is every active person but the author: an announcement channel has them
        all as members, and someone deactivated drops out of the pending list.

        NotFound when the viewer may not read the post; Forbidden unless they wrote it, post or administer
        in its channel, or are a site admin; Conflict when it does not ask for acknowledgement.
        """
        async with self._ctx.database.unit_of_work() as uow:
            post = await readable_post(uow, viewer, post_id)
            membership = (
                await uow.channels.membership(post.channel_id, viewer.id) if post.channel_id is not None else None
            )
            if not rules.can_see_ack_report(viewer, post, membership):
                raise Forbidden(
                    "only the author, the channel's posters and admins, and site admins see who acknowledged"
                )
            if not post.requires_ack:
                raise _does_not_ask(post.id)
            acknowledged = await uow.acknowledgements.of_post(post.id)
            pending = order_pending(await uow.acknowledgements.pending(post.id, post.author_id))
        return AckReport(
            post=post, acknowledged=acknowledged, pending=pending, by_department=by_department(acknowledged, pending)
        )

    async def acknowledgements_of(self, user: User, post_ids: Sequence[int]) -> dict[int, Acknowledgement]:
        """The user's own acknowledgements among these posts, by post id (what a page shows next to each)."""
        # A page shows at most a page of posts: more ids than that are a caller's mistake, not a bigger query.
        wanted = sorted(set(post_ids))[: self._ctx.policy.max_page_size]
        if not wanted:
            return {}
        async with self._ctx.database.unit_of_work() as uow:
            return {ack.post_id: ack for ack in await uow.acknowledgements.by_user(user.id, wanted)}

    async def pending_for(self, user: User) -> list[Post]:
        """Announcements asking for acknowledgement that ``user`` can read and has not acknowledged (nor
        written), newest first; at most ``policy.max_page_size`` of them."""
        if not user.active:
            return []
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.acknowledgements.unacknowledged_by(user, self._ctx.policy.max_page_size)

    async def send_due_reminders(self) -> int:
        """Send the one reminder of every announcement whose delay has passed; returns how many people were
        reminded (on the web; those with an IM address also get an IM delivery).

        Safe to run on every node at once and again at any time: each announcement's reminder row is its
        claim, written first in the transaction that queues the deliveries, so one round only ever reminds.
        """
        now = self._ctx.clock.now()
        cutoff = reminder_cutoff(now, self._ctx.policy.ack_reminder_delay_minutes)
        if cutoff is None:
            return 0
        async with self._ctx.database.unit_of_work() as uow:
            due = await uow.acknowledgements.due_for_reminder(cutoff)
        reminded = 0
        for post_id, author_id in due:
            # One transaction per announcement: a failure leaves the others' rounds (and this one's claim) alone.
            async with self._ctx.database.unit_of_work() as uow:
                if not await uow.acknowledgements.claim_reminder(post_id, now):
                    continue  # another node's round took it
                user_ids = await uow.acknowledgements.remind(post_id, author_id, origin_id_for_reminder(post_id), now)
                await uow.commit()
            log.info("acknowledgement reminder sent", extra={"post_id": post_id, "reminded": len(user_ids)})
            # In slices: an event crosses nodes as one NOTIFY payload (< 8 kB), and a company is larger.
            for start in range(0, len(user_ids), REMINDER_EVENT_SLICE):
                await self._ctx.events.publish(
                    AckReminderDue(post_id, tuple(user_ids[start : start + REMINDER_EVENT_SLICE]))
                )
            reminded += len(user_ids)
        return reminded
