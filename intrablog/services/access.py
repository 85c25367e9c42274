"""The one place where read access is decided for a single channel or post, whichever door asks.

Listings apply the same rule inside their query (storage's visibility predicate); everything that loads
one channel or one post by name or id goes through here, so a private channel answers exactly like one
that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from intrablog.domain import rules
from intrablog.domain.model import Channel, Membership, Post, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import NotFound


@dataclass(frozen=True)
class ChannelAccess:
    channel: Channel
    membership: Membership | None


def channel_not_found(name: str) -> NotFound:
    return NotFound(f"no channel named {name!r}")


def post_not_found(post_id: int | str) -> NotFound:
    return NotFound(f"no post {post_id}")


async def readable_channel(uow: UnitOfWork, viewer: User, name: str) -> ChannelAccess:
    found = await uow.channels.by_name_with_membership(name, viewer.id)
    if found is None:
        raise channel_not_found(name)
    channel, membership = found
    if not rules.can_read_channel(viewer, channel, membership):
        raise channel_not_found(name)
    return ChannelAccess(channel, membership)


async def can_read_post(uow: UnitOfWork, viewer: User, post: Post) -> bool:
    if post.deleted_at is not None or not viewer.active:
        return False
    if post.channel_id is None:
        return True
    channel = await uow.channels.get(post.channel_id)
    if channel is None:
        return False
    membership = await uow.channels.membership(channel.id, viewer.id)
    return rules.can_read_channel(viewer, channel, membership)


async def readable_post(uow: UnitOfWork, viewer: User, post_id: int) -> Post:
    post = await uow.posts.get(post_id)
    if post is None or not await can_read_post(uow, viewer, post):
        raise post_not_found(post_id)
    return post
