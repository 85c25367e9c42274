"""The IM face's use cases: who a JID is, following and switching IM delivery, favourites, tracked words.

Every answer that a command prints is one human line, written here so that every IM door words it alike.
Read rights go through services.access like every other door: a private channel answers as if absent.
"""

from __future__ import annotations

from intrablog.domain import rules
from intrablog.domain.events import DomainEvent, Followed, Unfollowed
from intrablog.domain.im import (
    MAX_TRACKED_WORDS,
    ImSettings,
    ImStats,
    ImTarget,
    TrackedWord,
    bare_jid,
    clean_tracked_word,
)
from intrablog.domain.model import PageRequest, Post, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.services.access import readable_channel, readable_post
from intrablog.services.channels import join_and_follow, unfollow_and_leave
from intrablog.services.context import ServiceContext
from intrablog.services.people import user_or_404

_LATEST = PageRequest(limit=1)


def _person(username: str) -> str:
    return f"@{username}"


async def _active_person(uow: UnitOfWork, username: str) -> User:
    """A colleague one can follow or read on IM; someone who left answers like someone unknown."""
    user = await uow.users.by_username(username.lower())
    if user is None or not user.active:
        raise NotFound(f"no user named {username!r}")
    return user


class ImService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def user_for_jid(self, jid: str) -> User | None:
        """The active user whose IM address is this JID (any resource, any case); None otherwise."""
        address = bare_jid(jid)
        if not address:
            return None
        async with self._ctx.database.unit_of_work() as uow:
            user = await uow.users.by_xmpp_address(address)
        return user if user is not None and user.active else None

    async def follow(self, user: User, target: ImTarget) -> str:
        """Follow with IM delivery on (also what a roster subscription does); following again turns IM on."""
        now = self._ctx.clock.now()
        events: list[DomainEvent] = []
        async with self._ctx.database.unit_of_work() as uow:
            if target.kind == "channel":
                access = await readable_channel(uow, user, target.name)
                channel = access.channel
                await join_and_follow(uow, user, access, now, events, via="im")
                await uow.im.set_channel_delivery(user.id, channel.id, True)
                what = channel.name
            else:
                person = await _active_person(uow, target.name)
                if person.id == user.id:
                    raise Invalid("target", "you cannot follow yourself")
                if await uow.follows.follow_user(user.id, person.id, now):
                    events.append(Followed(user.id, user_id=person.id))
                await uow.im.set_person_delivery(user.id, person.id, True)
                what = _person(person.username)
            im_on = await uow.im.im_enabled(user.id)
            await uow.commit()
        await self._publish(events)
        answer = f"Following {what} on IM."
        if not im_on:
            answer += " IM delivery is off for you overall: send 'on' to receive it."
        return answer

    async def leave(self, user: User, target: ImTarget) -> str:
        """Unfollow. Leaving a public channel as a plain member also ends the membership (as on the web)."""
        events: list[DomainEvent] = []
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            if target.kind == "channel":
                access = await readable_channel(uow, user, target.name)
                channel = access.channel
                if not rules.can_leave_channel(channel):
                    raise Forbidden(
                        f"{channel.name} is an announcement channel: it reaches everyone and cannot be left"
                    )
                left, _ = await unfollow_and_leave(uow, user, access, now, events, via="im")
                what = channel.name
            else:
                # Anyone with an account, active or not: one may still stop following someone who left.
                person = await user_or_404(uow, target.name)
                left = await uow.follows.unfollow_user(user.id, person.id)
                if left:
                    events.append(Unfollowed(user.id, user_id=person.id))
                what = _person(person.username)
            await uow.commit()
        await self._publish(events)
        return f"Stopped following {what}." if left else f"You were not following {what}."

    async def set_delivery(self, user: User, target: ImTarget | None, on: bool) -> str:
        """``on`` / ``off``: globally (``target`` None) or for one followed channel or person."""
        state = "on" if on else "off"
        async with self._ctx.database.unit_of_work() as uow:
            if target is None:
                await uow.im.set_im_enabled(user.id, on)
                await uow.commit()
                if on:
                    return "IM delivery is on."
                return "IM delivery is off; announcements still reach you. Send 'on' to turn it back on."
            if target.kind == "channel":
                channel = (await readable_channel(uow, user, target.name)).channel
                changed = await uow.im.set_channel_delivery(user.id, channel.id, on)
                what = channel.name
                if changed and channel.is_announcement and not on:
                    await uow.commit()
                    return f"IM delivery for {what} is off, but announcements reach everyone whatever the setting."
            else:
                person = await user_or_404(uow, target.name)
                changed = await uow.im.set_person_delivery(user.id, person.id, on)
                what = _person(person.username)
            if not changed:
                raise Invalid("target", f"you do not follow {what}; send 'follow {what}' first")
            await uow.commit()
        return f"IM delivery for {what} is {state}."

    async def settings(self, user: User) -> ImSettings:
        async with self._ctx.database.unit_of_work() as uow:
            return ImSettings(
                im_enabled=await uow.im.im_enabled(user.id),
                subscriptions=tuple(await uow.im.subscriptions(user.id)),
            )

    async def latest(self, user: User, target: ImTarget) -> Post | None:
        """The newest post of a channel, or of a person, that ``user`` may read."""
        async with self._ctx.database.unit_of_work() as uow:
            if target.kind == "channel":
                channel = (await readable_channel(uow, user, target.name)).channel
                posts = await uow.posts.in_channel(channel.id, _LATEST)
            else:
                person = await user_or_404(uow, target.name)
                posts = await uow.posts.by_author(person.id, user, _LATEST)
        return posts[0] if posts else None

    async def favourite(self, user: User, post_id: int) -> Post:
        """Mark a post you can read as a favourite; again changes nothing."""
        async with self._ctx.database.unit_of_work() as uow:
            post = await readable_post(uow, user, post_id)
            await uow.im.add_favourite(user.id, post.id, self._ctx.clock.now())
            await uow.commit()
        return post

    async def track(self, user: User, word: str) -> str:
        """Receive on IM every post you can read that contains ``word`` as a whole word."""
        cleaned = clean_tracked_word(word)
        async with self._ctx.database.unit_of_work() as uow:
            tracked = await uow.im.tracks(user.id)
            if any(each.word == cleaned for each in tracked):
                return f"You already track '{cleaned}'."
            # Counted before the insert: two tracks racing past the limit add one word too many, harmlessly.
            if len(tracked) >= MAX_TRACKED_WORDS:
                raise Invalid(
                    "word", f"you track {len(tracked)} words, the limit is {MAX_TRACKED_WORDS}: untrack one first"
                )
            await uow.im.add_track(user.id, cleaned, self._ctx.clock.now())
            await uow.commit()
        return f"Tracking '{cleaned}'."

    async def untrack(self, user: User, word: str) -> bool:
        cleaned = clean_tracked_word(word)
        async with self._ctx.database.unit_of_work() as uow:
            removed = await uow.im.remove_track(user.id, cleaned)
            await uow.commit()
        return removed

    async def tracks(self, user: User) -> list[TrackedWord]:
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.im.tracks(user.id)

    async def stats(self, user: User) -> ImStats:
        async with self._ctx.database.unit_of_work() as uow:
            return await uow.im.stats(user.id)

    async def _publish(self, events: list[DomainEvent]) -> None:
        for event in events:
            await self._ctx.events.publish(event)
