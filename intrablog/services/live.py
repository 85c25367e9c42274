"""What the web's live stream needs from the core: opening a stream on a page, deciding who may see a new
post, and catching a reconnecting page up from storage.

Everything here goes through the existing ports and the rules of ``access``: a stream on a page is opened
with the same checks as the page itself (a private channel answers 404), the catch-up uses the same
listings as the pages (so storage's read-rights predicate applies), and a live post is only offered to a
reader who may read it. Home streams ask the follow repository once per (reader, author or channel) and
remember the answer until that reader follows or unfollows something.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar, runtime_checkable

from intrablog.domain import rules
from intrablog.domain.event_ports import EventSubscription
from intrablog.domain.events import DomainEvent, Followed, MembershipChanged, Unfollowed
from intrablog.domain.ids import parse_id
from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Channel, Membership, PageRequest, Post, Role, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import NotFound
from intrablog.services.access import readable_channel, readable_post
from intrablog.services.context import ServiceContext
from intrablog.services.people import user_or_404

LiveKind = Literal["home", "mentions", "channel", "person", "thread", "conversation"]

T = TypeVar("T")

# Catch-up reads newest first in pages of this size and stops at what the page already has.
_CATCH_UP_PAGE = 50


@runtime_checkable
class EventSource(Protocol):
    def subscribe(self) -> EventSubscription: ...


@dataclass(frozen=True)
class LiveScope:
    """What one open page shows: its kind and the id that selects its posts."""

    kind: LiveKind
    # The reader (home, mentions), the channel, the author (person), the thread's root post, or the other
    # person of a conversation (direct messages).
    key: int
    # The reader's role in the channel of a channel page, for delete buttons on posts pushed to it.
    role: Role | None = None


@dataclass(frozen=True)
class PostReaders:
    """Who may read one post, decided once per post for every open stream."""

    everyone: bool
    # For a post in a private channel: its members and their roles (nobody else but site admins reads it).
    roles: dict[str, Role]

    def can_read(self, viewer: User) -> bool:
        if not viewer.active:
            return False
        return self.everyone or viewer.is_site_admin or viewer.username in self.roles

    def role_of(self, viewer: User) -> Role | None:
        return self.roles.get(viewer.username)


@dataclass(frozen=True)
class CatchUp(Generic[T]):
    """What a page missed, oldest first; ``complete`` is False when there was more than could be sent."""

    items: list[T]
    complete: bool


class LiveService:
    def __init__(self, ctx: ServiceContext, source: EventSource) -> None:
        self._ctx = ctx
        self._source = source
        # reader id -> {("user", id) | ("channel", id): follows?}; see in_home().
        self._follows: dict[int, dict[tuple[str, int], bool]] = {}

    @classmethod
    def from_context(cls, ctx: ServiceContext) -> LiveService:
        """The live service on the context's event bus, which must be one the stream can subscribe to."""
        source = ctx.events
        if not isinstance(source, EventSource):
            raise TypeError(f"the event publisher {type(source).__name__} offers no subscribe(): no live stream")
        return cls(ctx, source)

    def subscribe(self) -> EventSubscription:
        return self._source.subscribe()

    async def open(self, viewer: User, kind: LiveKind, name: str = "") -> LiveScope:
        """The scope of a page, checked like the page itself: what the viewer may not see is NotFound."""
        if kind in ("home", "mentions"):
            return LiveScope(kind, viewer.id)
        async with self._ctx.database.unit_of_work() as uow:
            if kind == "channel":
                access = await readable_channel(uow, viewer, name)
                role = access.membership.role if access.membership else None
                return LiveScope(kind, access.channel.id, role)
            if kind == "person":
                return LiveScope(kind, (await user_or_404(uow, name)).id)
            if kind == "conversation":
                other = await user_or_404(uow, name)
                if other.id == viewer.id:
                    raise NotFound("there is no conversation with yourself")
                return LiveScope(kind, other.id)
            post_id = parse_id(name)
            if post_id is None:
                raise NotFound(f"no post {name[:40]!r}")
            return LiveScope(kind, (await readable_post(uow, viewer, post_id)).thread_root)

    async def readers(self, post: Post) -> PostReaders:
        if post.channel_id is None:
            return PostReaders(everyone=True, roles={})
        return await self.channel_readers(post.channel_id)

    async def channel_readers(self, channel_id: int) -> PostReaders:
        """Who reads a channel's posts: everyone for a public one, else its members (with their roles)."""
        async with self._ctx.database.unit_of_work() as uow:
            channel = await uow.channels.get(channel_id)
            if channel is None:
                return PostReaders(everyone=False, roles={})
            if not channel.is_private:
                return PostReaders(everyone=True, roles={})
            members = await uow.channels.members(channel.id)
        return PostReaders(everyone=False, roles={member.username: member.role for member in members})

    async def in_home(self, viewer: User, post: Post) -> bool:
        """Whether the post belongs on the viewer's home timeline (read rights are checked separately).

        The same definition as storage's home listing: the viewer's own posts, and the posts of the
        people and channels the viewer follows.
        """
        if post.author_id == viewer.id:
            return True
        known = self._follows.setdefault(viewer.id, {})
        wanted = [("user", post.author_id)]
        if post.channel_id is not None:
            wanted.append(("channel", post.channel_id))
        missing = [key for key in wanted if key not in known]
        if missing:
            async with self._ctx.database.unit_of_work() as uow:
                for kind, target in missing:
                    if kind == "user":
                        known[(kind, target)] = await uow.follows.follows_user(viewer.id, target)
                    else:
                        known[(kind, target)] = await uow.follows.follows_channel(viewer.id, target)
        return any(known[key] for key in wanted)

    def observe(self, event: DomainEvent) -> None:
        """Forget remembered follow answers that an event makes stale."""
        if isinstance(event, Followed | Unfollowed):
            self._follows.pop(event.follower_id, None)
        elif isinstance(event, MembershipChanged):
            self._follows.pop(event.user_id, None)

    def forget_reader(self, viewer_id: int) -> None:
        """The reader has no home stream open any more: drop what was remembered for it."""
        self._follows.pop(viewer_id, None)

    async def catch_up(self, viewer: User, scope: LiveScope, after: int, limit: int) -> CatchUp[Post]:
        """Posts in the scope newer than ``after`` that the viewer may read now, oldest first."""
        async with self._ctx.database.unit_of_work() as uow:
            if scope.kind == "thread":
                posts = [post for post in await uow.posts.thread(scope.key, viewer) if post.id > after]
                return CatchUp(posts[:limit], len(posts) <= limit)
            if scope.kind == "channel":
                channel = await uow.channels.get(scope.key)
                if channel is None:
                    raise NotFound("the channel is gone")
                # Read rights may have changed since the stream opened (a member who left a private channel).
                await readable_channel(uow, viewer, channel.name)

            async def page(before: int | None) -> list[Post]:
                return await self._listing(uow, viewer, scope, PageRequest(limit=_CATCH_UP_PAGE, before=before))

            return await _newer_than(page, after, limit, lambda post: post.id)

    async def catch_up_messages(self, viewer: User, scope: LiveScope, after: int, limit: int) -> CatchUp[DirectMessage]:
        """Direct messages between the viewer and the scope's other person newer than ``after``, oldest first."""
        async with self._ctx.database.unit_of_work() as uow:

            async def page(before: int | None) -> list[DirectMessage]:
                request = PageRequest(limit=_CATCH_UP_PAGE, before=before)
                return await uow.messages.conversation(viewer.id, scope.key, request)

            return await _newer_than(page, after, limit, lambda message: message.id)

    async def _listing(self, uow: UnitOfWork, viewer: User, scope: LiveScope, page: PageRequest) -> list[Post]:
        if scope.kind == "home":
            return await uow.posts.home(viewer, page)
        if scope.kind == "mentions":
            return await uow.posts.mentioning(viewer, page)
        if scope.kind == "channel":
            return await uow.posts.in_channel(scope.key, page)
        return await uow.posts.by_author(scope.key, viewer, page)

    async def deletable(self, viewer: User, posts: Iterable[Post]) -> set[int]:
        """Ids of the posts the viewer may delete (for the delete buttons), one membership look-up per channel."""
        posts = list(posts)
        # Authors and site admins need no look-up; only a channel admin's right depends on a membership.
        allowed = {post.id for post in posts if rules.can_delete_post(viewer, post, None)}
        channels = {post.channel_id for post in posts if post.id not in allowed and post.channel_id is not None}
        if not channels:
            return allowed
        memberships: dict[int, Membership | None] = {}
        async with self._ctx.database.unit_of_work() as uow:
            for channel_id in channels:
                memberships[channel_id] = await uow.channels.membership(channel_id, viewer.id)
        for post in posts:
            if post.channel_id is not None and rules.can_delete_post(viewer, post, memberships[post.channel_id]):
                allowed.add(post.id)
        return allowed

    async def can_post_in(self, viewer: User, channel: Channel) -> bool:
        async with self._ctx.database.unit_of_work() as uow:
            membership = await uow.channels.membership(channel.id, viewer.id)
        return rules.can_post_in(viewer, channel, membership)


async def _newer_than(
    page: Callable[[int | None], Awaitable[list[T]]], after: int, limit: int, id_of: Callable[[T], int]
) -> CatchUp[T]:
    """Walk a newest-first listing back to ``after``; at most ``limit`` items, returned oldest first."""
    newer: list[T] = []
    before: int | None = None
    while True:
        items = await page(before)
        fresh = [item for item in items if id_of(item) > after]
        newer.extend(fresh)
        if len(fresh) < len(items) or len(items) < _CATCH_UP_PAGE or len(newer) > limit:
            break
        before = id_of(items[-1])
    newer.reverse()
    return CatchUp(newer[-limit:], len(newer) <= limit)
