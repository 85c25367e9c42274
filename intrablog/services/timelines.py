"""Timelines: home, channel, person, mentions. Newest first, cursor-paged by post id.

Home is fan-out on read: one indexed query over the time-ordered posts, filtered by what the reader follows
and may read (storage decides the plan). Nothing is copied per follower, so a post to 10,000 followers
costs one insert, and following or unfollowing takes effect on the next read.
"""

from __future__ import annotations

from intrablog.domain.model import Page, PageRequest, Post, User
from intrablog.errors import Invalid, NotFound
from intrablog.services.access import readable_channel
from intrablog.services.context import ServiceContext


class TimelineService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def page_request(self, limit: int | None, before: int | None) -> PageRequest:
        maximum = self._ctx.policy.max_page_size
        if limit is None:
            limit = 20
        if not 1 <= limit <= maximum:
            raise Invalid("limit", f"must be between 1 and {maximum}")
        return PageRequest(limit=limit, before=before)

    async def home(self, viewer: User, page: PageRequest) -> Page[Post]:
        async with self._ctx.database.reading() as uow:
            return _page(await uow.posts.home(viewer, page), page)

    async def channel(self, viewer: User, name: str, page: PageRequest) -> Page[Post]:
        async with self._ctx.database.reading() as uow:
            access = await readable_channel(uow, viewer, name)
            return _page(await uow.posts.in_channel(access.channel.id, page), page)

    async def person(self, viewer: User, username: str, page: PageRequest) -> Page[Post]:
        async with self._ctx.database.reading() as uow:
            author = await uow.users.by_username(username.lower())
            if author is None:
                raise NotFound(f"no user named {username!r}")
            return _page(await uow.posts.by_author(author.id, viewer, page), page)

    async def mentions(self, viewer: User, page: PageRequest) -> Page[Post]:
        async with self._ctx.database.reading() as uow:
            return _page(await uow.posts.mentioning(viewer, page), page)


def _page(items: list[Post], request: PageRequest) -> Page[Post]:
    # A full page may be followed by more; a short one is the end.
    next_before = items[-1].id if len(items) == request.limit and items else None
    return Page(items=items, next_before=next_before)
