"""Direct messages between two people: not posts, so never in timelines, feeds or search."""

from __future__ import annotations

from intrablog.domain import rules
from intrablog.domain.events import DirectMessageSent
from intrablog.domain.im import DirectMessage, NewDirectMessage
from intrablog.domain.model import AuthorView, PageRequest, User
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.services.context import ServiceContext


class MessageService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def send(self, sender: User, recipient_username: str, text: str) -> DirectMessage:
        """Store the message and its outbox row in one transaction; DirectMessageSent follows the commit."""
        if not sender.active:
            raise Forbidden("your account is not active")
        cleaned = rules.clean_post_text(text, self._ctx.policy.max_post_chars)
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            recipient = await uow.users.by_username(recipient_username.strip().lower())
            # Someone who left answers like someone unknown: a message to them would never be read.
            if recipient is None or not recipient.active:
                raise NotFound(f"no user named {recipient_username!r}")
            if recipient.id == sender.id:
                raise Invalid("recipient", "you cannot send a direct message to yourself")
            message = await uow.messages.add(
                NewDirectMessage(
                    id=self._ctx.ids.next_id(now),
                    sender_id=sender.id,
                    recipient_id=recipient.id,
                    text=cleaned,
                    created_at=now,
                )
            )
            await uow.outbox.add_direct_message(message.id, now)
            await uow.commit()
        await self._ctx.events.publish(DirectMessageSent(message))
        return message

    async def conversation(self, viewer: User, other_username: str, page: PageRequest) -> list[DirectMessage]:
        """The messages between ``viewer`` and the other person, either way, newest first."""
        limit = max(1, min(page.limit, self._ctx.policy.max_page_size))
        async with self._ctx.database.unit_of_work() as uow:
            other = await uow.users.by_username(other_username.strip().lower())
            if other is None:
                raise NotFound(f"no user named {other_username!r}")
            return await uow.messages.conversation(viewer.id, other.id, PageRequest(limit, page.before))

    async def conversations(self, viewer: User) -> list[tuple[AuthorView, DirectMessage]]:
        """Everyone ``viewer`` has exchanged messages with, and the latest message; newest first."""
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.messages.latest_per_counterpart(viewer.id)
