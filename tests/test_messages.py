"""Direct messages on SQLite and PostgreSQL: the rules, one transaction with the outbox, conversations, and
never a trace in timelines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from intrablog.config import LdapConfig
from intrablog.domain.events import DirectMessageSent
from intrablog.domain.model import AuthorView, PageRequest
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.storage.models import OutboxRow
from tests.support.im_world import World, open_world


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def test_send_stores_the_message_and_its_outbox_row_then_publishes(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    subscription = world.runtime.events.subscribe()
    message = await world.services.messages.send(alice, " Bob ", "  Lunch at 12?  ")
    assert (message.text, message.sender, message.recipient) == (
        "Lunch at 12?",
        AuthorView("alice", "Alice"),
        AuthorView("bob", "Bob"),
    )
    assert (message.sender_id, message.recipient_id) == (alice.id, bob.id)
    assert await asyncio.wait_for(subscription.get(), 2) == DirectMessageSent(message)
    assert await world.count(OutboxRow, OutboxRow.message_id == message.id) == 1
    assert await world.services.messages.conversation(bob, "alice", PageRequest()) == [message]
    subscription.close()


async def test_send_refusals_store_nothing(world: World) -> None:
    alice, _ = await world.person("alice"), await world.person("bob")
    gone = await world.person("gone")
    await world.deactivate(gone)
    limit = world.runtime.services.context.policy.max_post_chars
    with pytest.raises(Invalid) as too_long:
        await world.services.messages.send(alice, "bob", "x" * (limit + 1))
    assert f"the limit is {limit}" in too_long.value.detail
    with pytest.raises(Invalid):
        await world.services.messages.send(alice, "bob", "   ")
    with pytest.raises(Invalid):
        await world.services.messages.send(alice, "alice", "note to self")
    with pytest.raises(NotFound):
        await world.services.messages.send(alice, "nobody", "hello?")
    with pytest.raises(NotFound):
        await world.services.messages.send(alice, "gone", "hello?")
    with pytest.raises(Forbidden):
        await world.services.messages.send(replace(gone, active=False), "alice", "still here")
    assert await world.count(OutboxRow) == 0
    assert await world.services.messages.conversations(alice) == []


async def test_conversation_pages_newest_first_between_two_people_only(world: World) -> None:
    alice, bob, carol = await world.person("alice"), await world.person("bob"), await world.person("carol")
    exchanged = []
    for n in range(5):
        sender, recipient = (alice, "bob") if n % 2 == 0 else (bob, "alice")
        exchanged.append(await world.services.messages.send(sender, recipient, f"m{n}"))
    await world.services.messages.send(carol, "alice", "not in it")
    await world.services.messages.send(bob, "carol", "nor this")

    first_page = await world.services.messages.conversation(alice, "bob", PageRequest(limit=3))
    assert [m.text for m in first_page] == ["m4", "m3", "m2"]
    rest = await world.services.messages.conversation(alice, "Bob", PageRequest(limit=3, before=first_page[-1].id))
    assert [m.text for m in rest] == ["m1", "m0"]
    assert await world.services.messages.conversation(bob, "alice", PageRequest(limit=10)) == first_page + rest
    with pytest.raises(NotFound):
        await world.services.messages.conversation(alice, "nobody", PageRequest())


async def test_conversations_list_the_latest_message_per_person(world: World) -> None:
    alice, bob, carol = await world.person("alice"), await world.person("bob"), await world.person("carol")
    await world.services.messages.send(alice, "bob", "first to bob")
    from_carol = await world.services.messages.send(carol, "alice", "hi alice")
    from_bob = await world.services.messages.send(bob, "alice", "reply from bob")
    await world.services.messages.send(bob, "carol", "between bob and carol")
    assert await world.services.messages.conversations(alice) == [
        (AuthorView("bob", "Bob"), from_bob),
        (AuthorView("carol", "Carol"), from_carol),
    ]


async def test_direct_messages_never_appear_in_timelines(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.people.follow_user(bob, "alice")
    await world.services.messages.send(alice, "bob", "secret plan for @bob #launch")
    await world.post(alice, "public news")
    timelines = world.services.timelines
    texts = [p.text for p in (await timelines.home(bob, PageRequest())).items]
    texts += [p.text for p in (await timelines.mentions(bob, PageRequest())).items]
    texts += [p.text for p in (await timelines.person(bob, "alice", PageRequest())).items]
    texts += [p.text for p in (await timelines.home(alice, PageRequest())).items]
    assert texts == ["public news", "public news", "public news"]
