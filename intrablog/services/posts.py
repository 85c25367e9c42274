"""Posting, replying, reading one post or its thread, deleting."""

from __future__ import annotations

from dataclasses import dataclass

from intrablog.domain import rules
from intrablog.domain.announcements import check_announcement_flags
from intrablog.domain.events import PostCreated, PostDeleted
from intrablog.domain.model import AuthorView, Channel, NewPost, Post, User
from intrablog.errors import Forbidden, Invalid
from intrablog.services.access import can_read_post, readable_channel, readable_post
from intrablog.services.audit import record_deletion
from intrablog.services.context import ServiceContext


@dataclass(frozen=True)
class PostDraft:
    text: str
    channel: str | None = None
    in_reply_to: int | None = None
    # Announcements only (a new post in an announcement channel): ask everyone to acknowledge it; get it
    # through "do not disturb" on IM.
    requires_ack: bool = False
    urgent: bool = False


class PostService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def create(self, author: User, draft: PostDraft) -> Post:
        text = rules.clean_post_text(draft.text, self._ctx.policy.max_post_chars)
        parsed = rules.parse_text(text)
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            channel_name = draft.channel
            thread_root: int | None = None
            if draft.in_reply_to is not None:
                parent = await uow.posts.get(draft.in_reply_to)
                if parent is None or not await can_read_post(uow, author, parent):
                    raise Invalid("in_reply_to", "no such post")
                if channel_name is not None and channel_name != parent.channel_name:
                    raise Invalid("channel", "a reply stays in the channel of the post it answers")
                channel_name = parent.channel_name
                thread_root = parent.thread_root
            channel: Channel | None = None
            if channel_name is not None:
                access = await readable_channel(uow, author, channel_name)
                if not rules.can_post_in(author, access.channel, access.membership):
                    raise Forbidden(f"you may not post in {channel_name!r}")
                channel = access.channel
            # After the rights: someone who may not post there hears that, not how to fill the form.
            check_announcement_flags(draft.requires_ack, draft.urgent, channel, is_reply=draft.in_reply_to is not None)
            post_id = self._ctx.ids.next_id(now)
            post = await uow.posts.add(
                NewPost(
                    id=post_id,
                    author_id=author.id,
                    channel_id=channel.id if channel is not None else None,
                    text=text,
                    in_reply_to=draft.in_reply_to,
                    thread_root=thread_root if thread_root is not None else post_id,
                    created_at=now,
                    mentions=parsed.mentions,
                    tags=parsed.tags,
                    links=parsed.links,
                    requires_ack=draft.requires_ack,
                    urgent=draft.urgent,
                    # Read in this unit of work (the author at sign-in of this request): storage need not again.
                    author=AuthorView(username=author.username, display_name=author.display_name),
                    channel_name=channel.name if channel is not None else None,
                )
            )
            # In the post's own transaction: a post is never stored without its IM delivery, nor the reverse.
            await uow.outbox.add_post(post.id, now)
            await uow.commit()
        await self._ctx.events.publish(PostCreated(post))
        return post

    async def get(self, viewer: User, post_id: int) -> Post:
        async with self._ctx.database.unit_of_work() as uow:
            return await readable_post(uow, viewer, post_id)

    async def thread(self, viewer: User, post_id: int) -> list[Post]:
        """The whole thread the post belongs to: root first, then replies in the order they were made."""
        async with self._ctx.database.unit_of_work() as uow:
            post = await readable_post(uow, viewer, post_id)
            return await uow.posts.thread(post.thread_root, viewer)

    async def delete(self, actor: User, post_id: int) -> None:
        async with self._ctx.database.unit_of_work() as uow:
            post = await readable_post(uow, actor, post_id)
            membership = (
                await uow.channels.membership(post.channel_id, actor.id) if post.channel_id is not None else None
            )
            if not rules.can_delete_post(actor, post, membership):
                raise Forbidden("only the author, a channel admin or a site admin may delete this post")
            now = self._ctx.clock.now()
            await uow.posts.mark_deleted(post.id, now)
            if actor.id != post.author_id:
                # Authors deleting their own posts is ordinary use; someone else's is moderation, and audited.
                await record_deletion(uow, now, actor, post, as_channel_admin=not actor.is_site_admin)
            await uow.commit()
        await self._ctx.events.publish(PostDeleted(post.id, post.author_id, post.channel_id, actor.id))
