"""What the outbound worker added to the delivery service, on SQLite and PostgreSQL: receipts recorded many
at a time, reading the next batch past the one still in hand, and recording several batches at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from intrablog.config import LdapConfig
from intrablog.domain.im import ImTarget, origin_id_for_post
from tests.support.im_world import World, open_world

ENGINEERING = ImTarget("channel", "engineering")


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def test_receipts_are_recorded_many_at_a_time(world: World) -> None:
    alice, bob, carol = [await world.person(name) for name in ("alice", "bob", "carol")]
    for follower in (bob, carol):
        await world.services.im.follow(follower, ENGINEERING)
    posts = [await world.post(alice, f"n{n}", channel="engineering") for n in range(3)]
    await world.expand()
    delivery = world.services.delivery
    sent = await delivery.pending(10)
    await delivery.mark_sent([d.id for d in sent])

    with world.statements() as sql:
        matched = await delivery.record_receipts(
            [
                ("Bob@Example.com/laptop", origin_id_for_post(posts[0])),
                ("bob@example.com", origin_id_for_post(posts[1])),
                ("carol@example.com/phone", origin_id_for_post(posts[0])),
                ("carol@example.com", "post-1"),  # no such delivery
                ("nobody@example.com", origin_id_for_post(posts[2])),  # nobody's address
                ("alice@example.com", origin_id_for_post(posts[2])),  # the author got no copy
            ]
        )
    assert matched == 3
    assert sql.count <= 8, f"{sql.count} statements: one look-up and one update per person, not per receipt"
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [d.origin_id for d in await delivery.unreceipted(bob.id, later)] == [origin_id_for_post(posts[2])]
    remaining = [d.origin_id for d in await delivery.unreceipted(carol.id, later)]
    assert remaining == [origin_id_for_post(posts[1]), origin_id_for_post(posts[2])]
    assert await delivery.record_receipts([("bob@example.com", origin_id_for_post(posts[0]))]) == 1  # again: kept


async def test_the_next_batch_is_read_past_the_one_in_hand(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.im.follow(bob, ENGINEERING)
    for n in range(5):
        await world.post(alice, f"n{n}", channel="engineering")
    await world.expand()
    delivery = world.services.delivery
    in_hand = await delivery.pending(2)
    following = await delivery.pending(2, after=in_hand[-1].id)
    rest = await delivery.pending(10, after=following[-1].id)
    assert [d.post.text for d in in_hand + following + rest if d.post] == [f"n{n}" for n in range(5)]
    assert [d.id for d in await delivery.pending(10)] == [d.id for d in in_hand + following + rest]


async def test_sent_and_held_are_recorded_in_one_call(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.im.follow(bob, ENGINEERING)
    for n in range(4):
        await world.post(alice, f"n{n}", channel="engineering")
    await world.expand()
    delivery = world.services.delivery
    first, second, third, fourth = await delivery.pending(10)
    await delivery.mark(sent=[first.id, second.id], held=[third.id])
    assert [d.id for d in await delivery.pending(10)] == [fourth.id]
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert [d.id for d in await delivery.unreceipted(bob.id, later)] == [first.id, second.id]
    await delivery.mark(sent=[], held=[first.id])  # only PENDING rows are held: a sent one stays sent
    assert [d.id for d in await delivery.unreceipted(bob.id, later)] == [first.id, second.id]
    summary = await delivery.release_held(bob.id)
    assert summary is not None
    assert summary.count == 1  # the third
