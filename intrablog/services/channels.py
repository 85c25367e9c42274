"""Channels: create, list, show, members, follow and leave; following people; seeding from the config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from intrablog.domain import rules
from intrablog.domain.events import ChannelCreated, DomainEvent, Followed, MembershipChanged, Unfollowed
from intrablog.domain.model import Channel, ChannelKind, Membership, MemberView, Role, User, Visibility
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Conflict, FieldError, Forbidden, Invalid
from intrablog.services.access import ChannelAccess, readable_channel
from intrablog.services.audit import MembershipChange, channel_subject, record, record_membership
from intrablog.services.context import ServiceContext


@dataclass(frozen=True)
class ChannelView:
    channel: Channel
    member_count: int
    my_role: Role | None
    following: bool


@dataclass(frozen=True)
class NewChannel:
    name: str
    title: str
    kind: str = "team"
    visibility: str = "public"
    description: str = ""


T = TypeVar("T")


def _collect(errors: list[FieldError], check: Callable[[], T], fallback: T) -> T:
    try:
        return check()
    except Invalid as exc:
        errors.extend(exc.errors)
        return fallback


def _parse_new_channel(data: NewChannel) -> tuple[str, str, str, ChannelKind, Visibility]:
    """Check every field and report all faults at once."""
    errors: list[FieldError] = []
    name = _collect(errors, lambda: rules.validate_channel_name(data.name), "")
    title = _collect(errors, lambda: rules.clean_title(data.title), "")
    description = _collect(errors, lambda: rules.clean_description(data.description), "")
    kind = ChannelKind.TEAM
    if data.kind in ChannelKind._value2member_map_:
        kind = ChannelKind(data.kind)
    else:
        errors.append(FieldError("kind", "must be one of team, project, announcement"))
    visibility = Visibility.PUBLIC
    if data.visibility in Visibility._value2member_map_:
        visibility = Visibility(data.visibility)
    else:
        errors.append(FieldError("visibility", "must be public or private"))
    if kind is ChannelKind.ANNOUNCEMENT and visibility is Visibility.PRIVATE:
        errors.append(FieldError("visibility", "announcement channels reach everyone, so they are public"))
    if errors:
        raise Invalid.of(errors)
    return name, title, description, kind, visibility


class ChannelService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def create(self, actor: User, data: NewChannel) -> ChannelView:
        name, title, description, kind, visibility = _parse_new_channel(data)
        if not rules.can_create_channel(actor, kind):
            raise Forbidden("only site admins create announcement channels")
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            if await uow.channels.by_name(name) is not None:
                raise Conflict(f"a channel named {name!r} already exists")
            channel = await uow.channels.add(name, title, description, kind, visibility, actor.id, now)
            await uow.channels.set_membership(channel.id, actor.id, Role.ADMIN, now)
            await uow.follows.follow_channel(actor.id, channel.id, now)
            await _record_created(uow, now, actor, channel, admin=actor.username)
            await uow.commit()
        await self._publish(ChannelCreated(channel), MembershipChanged(channel.id, actor.id, Role.ADMIN))
        return ChannelView(channel, 1, Role.ADMIN, True)

    async def list_visible(self, viewer: User) -> list[Channel]:
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.channels.visible_to(viewer)

    async def show(self, viewer: User, name: str) -> ChannelView:
        async with self._ctx.database.unit_of_work() as uow:
            access = await readable_channel(uow, viewer, name)
            return await self._view(uow, viewer, access.channel, access.membership)

    async def members(self, viewer: User, name: str) -> list[MemberView]:
        async with self._ctx.database.unit_of_work() as uow:
            access = await readable_channel(uow, viewer, name)
            return await uow.channels.members(access.channel.id)

    async def follow(self, viewer: User, name: str) -> ChannelView:
        """Follow a channel you can read; following a public channel makes you a member."""
        now = self._ctx.clock.now()
        events: list[DomainEvent] = []
        async with self._ctx.database.unit_of_work() as uow:
            access = await readable_channel(uow, viewer, name)
            membership = await join_and_follow(uow, viewer, access, now, events)
            view = await self._view(uow, viewer, access.channel, membership)
            await uow.commit()
        await self._publish(*events)
        return view

    async def unfollow(self, viewer: User, name: str) -> ChannelView:
        """Stop following. Leaving a public channel as a plain member also ends the membership."""
        events: list[DomainEvent] = []
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            access = await readable_channel(uow, viewer, name)
            if not rules.can_leave_channel(access.channel):
                raise Forbidden("announcement channels reach everyone and cannot be left")
            _, membership = await unfollow_and_leave(uow, viewer, access, now, events)
            view = await self._view(uow, viewer, access.channel, membership)
            await uow.commit()
        await self._publish(*events)
        return view

    async def seed(self) -> list[str]:
        """Create the channels named in the config that do not exist yet; returns the names created."""
        created: list[str] = []
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            for seed in self._ctx.policy.seeded_channels:
                if await uow.channels.by_name(seed.name) is not None:
                    continue
                channel = await uow.channels.add(
                    seed.name,
                    seed.title,
                    seed.description,
                    ChannelKind(seed.kind),
                    Visibility(seed.visibility),
                    None,
                    now,
                )
                await _record_created(uow, now, None, channel, source="config")
                created.append(channel.name)
            await uow.commit()
        return created

    async def _view(
        self, uow: UnitOfWork, viewer: User, channel: Channel, membership: Membership | None
    ) -> ChannelView:
        return ChannelView(
            channel=channel,
            member_count=await uow.channels.member_count(channel.id),
            my_role=membership.role if membership else None,
            following=await uow.follows.follows_channel(viewer.id, channel.id),
        )

    async def _publish(self, *events: DomainEvent) -> None:
        for event in events:
            await self._ctx.events.publish(event)


async def join_and_follow(
    uow: UnitOfWork, user: User, access: ChannelAccess, now: datetime, events: list[DomainEvent], **audit: str
) -> Membership:
    """Follow a channel the user may read (web and IM alike); a non-member becomes a plain member, audited.

    Appends the events to publish after the commit; returns the user's membership.
    """
    channel, membership = access.channel, access.membership
    if membership is None:
        membership = await uow.channels.set_membership(channel.id, user.id, Role.MEMBER, now)
        events.append(MembershipChanged(channel.id, user.id, Role.MEMBER))
        joined = MembershipChange(channel.name, user.id, None, Role.MEMBER)
        await record_membership(uow, now, user, joined, user.username, **audit)
    if await uow.follows.follow_channel(user.id, channel.id, now):
        events.append(Followed(user.id, channel_id=channel.id))
    return membership


async def unfollow_and_leave(
    uow: UnitOfWork, user: User, access: ChannelAccess, now: datetime, events: list[DomainEvent], **audit: str
) -> tuple[bool, Membership | None]:
    """Stop following (web and IM alike); leaving a public channel as a plain member ends the membership, audited.

    The caller checks ``rules.can_leave_channel`` first. Appends the events to publish after the commit;
    returns whether a follow ended, and the user's membership afterwards.
    """
    channel, membership = access.channel, access.membership
    unfollowed = await uow.follows.unfollow_channel(user.id, channel.id)
    if unfollowed:
        events.append(Unfollowed(user.id, channel_id=channel.id))
    if not channel.is_private and membership is not None and membership.role is Role.MEMBER:
        await uow.channels.remove_membership(channel.id, user.id)
        events.append(MembershipChanged(channel.id, user.id, None))
        left = MembershipChange(channel.name, user.id, Role.MEMBER, None)
        await record_membership(uow, now, user, left, user.username, **audit)
        membership = None
    return unfollowed, membership


async def _record_created(uow: UnitOfWork, now: datetime, actor: User | None, channel: Channel, **details: str) -> None:
    await record(
        uow,
        now,
        actor,
        "channel.created",
        channel_subject(channel.name),
        title=channel.title,
        kind=channel.kind.value,
        visibility=channel.visibility.value,
        **details,
    )
