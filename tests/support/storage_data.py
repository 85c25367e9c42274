"""Small builders for storage tests: people, channels and posts with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intrablog.domain.model import Channel, ChannelKind, DirectoryPerson, NewPost, User, Visibility
from intrablog.domain.ports import UnitOfWork

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


def person(username: str, display_name: str | None = None) -> DirectoryPerson:
    return DirectoryPerson(
        username=username,
        display_name=display_name or username.capitalize(),
        email=f"{username}@example.com",
        xmpp_address=f"{username}@example.com",
    )


async def add_user(uow: UnitOfWork, username: str, *, site_admin: bool = False) -> User:
    return await uow.users.upsert_from_directory(person(username), is_site_admin=site_admin, now=NOW)


async def add_channel(
    uow: UnitOfWork,
    name: str,
    *,
    visibility: Visibility = Visibility.PUBLIC,
    kind: ChannelKind = ChannelKind.TEAM,
    created_by: User | None = None,
) -> Channel:
    return await uow.channels.add(
        name=name,
        title=name.capitalize(),
        description=f"The {name} channel",
        kind=kind,
        visibility=visibility,
        created_by=created_by.id if created_by else None,
        now=NOW,
    )


def new_post(
    post_id: int,
    author: User,
    *,
    channel: Channel | None = None,
    text: str | None = None,
    in_reply_to: int | None = None,
    thread_root: int | None = None,
    mentions: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    links: tuple[str, ...] = (),
) -> NewPost:
    return NewPost(
        id=post_id,
        author_id=author.id,
        channel_id=channel.id if channel else None,
        text=text or f"post {post_id} by {author.username}",
        in_reply_to=in_reply_to,
        thread_root=thread_root if thread_root is not None else post_id,
        created_at=NOW + timedelta(seconds=post_id),
        mentions=mentions,
        tags=tags,
        links=links,
    )
