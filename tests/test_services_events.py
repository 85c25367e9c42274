"""Services publish domain events after their transaction commits, and nothing for a refused call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from intrablog.config import LdapConfig
from intrablog.domain.event_ports import EventSubscription
from intrablog.domain.events import ChannelCreated, DomainEvent, Followed, PostCreated, PostDeleted, SignedIn
from intrablog.errors import Invalid
from intrablog.runtime import Runtime, build_runtime
from intrablog.services.channels import NewChannel
from intrablog.services.posts import PostDraft
from tests.support.app_fixtures import make_settings


@pytest.fixture
async def runtime(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(database_url, ldap_config))
    await built.services.channels.seed()
    yield built
    await built.database.dispose()


async def _next(subscription: EventSubscription) -> DomainEvent:
    event = await asyncio.wait_for(subscription.get(), timeout=2)
    assert event is not None
    return event


async def test_events_follow_commits(runtime: Runtime) -> None:
    subscription = runtime.events.subscribe()
    session = await runtime.services.accounts.sign_in("alice", "alice-pass")
    alice = session.user
    assert await _next(subscription) == SignedIn(alice.id)

    view = await runtime.services.channels.create(alice, NewChannel(name="ops", title="Ops"))
    assert await _next(subscription) == ChannelCreated(view.channel)
    await _next(subscription)  # alice becomes the channel's admin

    post = await runtime.services.posts.create(alice, PostDraft(text="deploy at 5", channel="ops"))
    event = await _next(subscription)
    assert isinstance(event, PostCreated)
    assert event.post == post
    # Published after commit: a new unit of work already sees the post.
    async with runtime.database.unit_of_work() as uow:
        assert await uow.posts.get(post.id) is not None

    with pytest.raises(Invalid):
        await runtime.services.posts.create(alice, PostDraft(text=" ", channel="ops"))
    await runtime.services.posts.delete(alice, post.id)
    assert await _next(subscription) == PostDeleted(post.id, alice.id, view.channel.id, alice.id)

    bob = (await runtime.services.accounts.sign_in("bob", "bob-pass")).user
    assert await _next(subscription) == SignedIn(bob.id)
    await runtime.services.people.follow_user(bob, "alice")
    assert await _next(subscription) == Followed(bob.id, user_id=alice.id)
    # Following again changes nothing and says nothing.
    await runtime.services.people.follow_user(bob, "alice")
    subscription.close()
    assert await subscription.get() is None


async def test_slow_subscriber_is_dropped_not_blocking(runtime: Runtime) -> None:
    # The in-process bus (on PostgreSQL the one the NOTIFY bus wraps) is where a subscriber falls behind.
    bus = runtime.local_events
    bus._queue_size = 2
    slow = bus.subscribe()
    alice = (await runtime.services.accounts.sign_in("alice", "alice-pass")).user
    for n in range(5):
        await runtime.services.posts.create(alice, PostDraft(text=f"tick {n}"))
    assert slow.overflowed
    assert await slow.get() is None
    assert bus.subscriber_count == 0
