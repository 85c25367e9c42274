"""Acknowledging announcements from IM: one service call, ``announcements.acknowledge(..., via="im")``.

- ``ack <post id>`` to the bot acknowledges that post; ``ack`` alone the newest one waiting for the sender.
- ``ack`` sent to an announcement channel's address acknowledges the announcement it answers (an XEP-0461
  reply to the announcement or to its reminder, or a leading ``@<post id>``); without a reference, the
  channel's newest announcement still waiting for the sender.

In any other channel "ack" is ordinary chat ("ack" answered to a colleague's post is a reply like any other),
unless the post it answers asks for acknowledgement. Refusals (no such post, a post that asks for nothing)
are raised as the services' errors and worded by ``errors.py`` like every other answer.
"""

from __future__ import annotations

import re

from bridges.xmpp import replies
from intrablog.domain.model import User
from intrablog.services.facade import Services

# "ack", "Ack", "ACK!" or "ack." — what people type to confirm; anything longer is a message.
_ACK = re.compile(r"\s*ack[.!]*\s*", re.IGNORECASE)


def is_ack(text: str) -> bool:
    return _ACK.fullmatch(text) is not None


class Acknowledgements:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def post(self, user: User, post_id: int) -> str:
        """``ack <post id>``: NotFound for a post the sender cannot read, Conflict for one that asks for nothing."""
        # Read first: the answer quotes the post, and an unreadable one is "not found" before anything else.
        post = await self._services.posts.get(user, post_id)
        await self._services.announcements.acknowledge(user, post.id, "im")
        return replies.acknowledged(post)

    async def newest(self, user: User, channel: str | None = None) -> str:
        """The newest announcement waiting for ``user`` (in ``channel`` when given), acknowledged."""
        waiting = await self._services.announcements.pending_for(user)
        if channel is not None:
            waiting = [post for post in waiting if post.channel_name == channel]
        if not waiting:
            return replies.nothing_to_acknowledge(channel)
        newest = waiting[0]
        await self._services.announcements.acknowledge(user, newest.id, "im")
        return replies.acknowledged(newest, still_waiting=waiting[1:])

    async def in_channel(self, user: User, channel: str, text: str, in_reply_to: int | None) -> str | None:
        """The answer when a message to ``channel`` is an acknowledgement; None when it is an ordinary post."""
        if not is_ack(text):
            return None
        if in_reply_to is not None:
            post = await self._services.posts.get(user, in_reply_to)
            if post.requires_ack or await self._is_announcement_channel(user, channel):
                # In an announcement channel "ack" can mean nothing else: the service says why it is refused.
                await self._services.announcements.acknowledge(user, post.id, "im")
                return replies.acknowledged(post)
            return None
        if await self._is_announcement_channel(user, channel):
            return await self.newest(user, channel)
        return None

    async def _is_announcement_channel(self, user: User, channel: str) -> bool:
        return (await self._services.channels.show(user, channel)).channel.is_announcement
