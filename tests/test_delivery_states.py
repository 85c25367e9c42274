"""What the outbound worker does with deliveries, on SQLite and PostgreSQL: load them, mark them sent or
held, summarise what was held, record receipts, find what to resend, requeue with the same origin-ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from intrablog.config import LdapConfig
from intrablog.domain.im import DeliveryReason, DeliveryState, HeldSummary, ImTarget, origin_id_for_post
from intrablog.domain.model import Role, User
from intrablog.services.channels import NewChannel
from tests.support.im_world import World, open_world

ENGINEERING = ImTarget("channel", "engineering")
PENDING, DROPPED = DeliveryState.PENDING.value, DeliveryState.DROPPED.value


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def _alice_and_bob(world: World) -> tuple[User, User]:
    """alice posts; bob follows engineering on IM."""
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.im.follow(bob, ENGINEERING)
    return alice, bob


async def test_pending_loads_posts_and_messages_in_id_order(world: World) -> None:
    alice, _ = await _alice_and_bob(world)
    post_id = await world.post(alice, "Build is green @bob https://ci.example.com/1", channel="engineering")
    message = await world.services.messages.send(alice, "bob", "coffee?")
    await world.expand()

    with world.statements() as sql:
        first, second = await world.services.delivery.pending(10)
    assert sql.count <= 6, f"{sql.count} statements: posts and messages are loaded in batches"
    assert first.post is not None
    assert first.direct_message is None
    assert (first.recipient_username, first.recipient_jid, first.reason, first.state) == (
        "bob",
        "bob@example.com",
        DeliveryReason.MENTION,
        DeliveryState.PENDING,
    )
    assert (first.post.id, first.post.author.username, first.post.channel_name) == (post_id, "alice", "engineering")
    assert (first.post.mentions, first.post.links) == (("bob",), ("https://ci.example.com/1",))
    assert second.direct_message == message
    assert (second.post, second.reason, second.origin_id) == (None, DeliveryReason.DIRECT, f"dm-{message.id}")
    assert first.id < second.id


async def test_pending_drops_what_can_no_longer_go_out(world: World) -> None:
    alice, carol = await world.person("alice"), await world.person("carol")
    gone, left, quiet, stays = [await world.person(name) for name in ("gone", "left", "quiet", "stays")]
    await world.add_member("announcements", carol, Role.POSTER)
    await world.services.channels.create(alice, NewChannel(name="secret", title="Secret", visibility="private"))
    for user in (gone, quiet, stays):
        await world.services.im.follow(user, ENGINEERING)
    for user in (left, stays):
        await world.add_member("secret", user)
        await world.services.im.follow(user, ImTarget("channel", "secret"))
    ordinary = await world.post(alice, "one", channel="engineering")
    private = await world.post(alice, "two", channel="secret")
    deleted = await world.post(alice, "three", channel="engineering")
    announcement = await world.post(carol, "four", channel="announcements")
    await world.expand()

    await world.deactivate(gone)
    await world.services.im.set_delivery(quiet, None, on=False)
    await world.services.posts.delete(alice, deleted)
    async with world.runtime.database.unit_of_work() as uow:
        secret = await uow.channels.by_name("secret")
        assert secret is not None
        await uow.channels.remove_membership(secret.id, left.id)
        await uow.commit()

    # The first deliverable row comes back even though the rows before it are all dropped on the way.
    (first,) = await world.services.delivery.pending(1)
    assert (first.recipient_username, first.origin_id) == ("stays", origin_id_for_post(ordinary))
    everything = await world.services.delivery.pending(100)
    assert {(d.recipient_username, d.origin_id) for d in everything} == {
        ("stays", origin_id_for_post(ordinary)),
        ("stays", origin_id_for_post(private)),
        *((name, origin_id_for_post(announcement)) for name in ("alice", "left", "quiet", "stays")),
    }
    assert await world.deliveries_of(origin_id_for_post(ordinary)) == {
        "gone": ("channel", DROPPED),
        "quiet": ("channel", DROPPED),
        "stays": ("channel", PENDING),
    }
    assert await world.deliveries_of(origin_id_for_post(private)) == {
        "left": ("channel", DROPPED),
        "stays": ("channel", PENDING),
    }
    assert {state for _, state in (await world.deliveries_of(origin_id_for_post(deleted))).values()} == {DROPPED}
    assert (await world.deliveries_of(origin_id_for_post(announcement)))["gone"] == ("announcement", DROPPED)


async def test_sent_held_requeued_keep_their_row_and_origin_id(world: World) -> None:
    alice, _ = await _alice_and_bob(world)
    for n in range(3):
        await world.post(alice, f"post {n}", channel="engineering")
    await world.expand()
    one, two, three = await world.services.delivery.pending(10)

    await world.services.delivery.mark_sent([one.id])
    await world.services.delivery.mark_held([two.id])
    assert [d.id for d in await world.services.delivery.pending(10)] == [three.id]
    assert await world.state_of(one) is DeliveryState.SENT
    assert await world.sent_at(one) is not None
    assert await world.state_of(two) is DeliveryState.HELD
    # Holding is only for what has not gone out yet.
    await world.services.delivery.mark_held([one.id])
    assert await world.state_of(one) is DeliveryState.SENT

    await world.services.delivery.requeue([one.id, two.id])
    again = await world.services.delivery.pending(10)
    assert [(d.id, d.origin_id) for d in again] == [(d.id, d.origin_id) for d in (one, two, three)]
    assert await world.sent_at(one) is None
    assert await world.services.delivery.backlog() == 3


async def test_release_held_summarises_once(world: World) -> None:
    alice, bob = await _alice_and_bob(world)
    carol = await world.person("carol")
    await world.services.im.follow(carol, ENGINEERING)
    for n in range(3):
        await world.post(alice, f"while you were away {n}", channel="engineering")
    await world.expand()
    pending = await world.services.delivery.pending(10)
    await world.services.delivery.mark_held([d.id for d in pending])

    assert await world.services.delivery.release_held(bob.id) == HeldSummary(count=3, url="http://intrablog.test/")
    assert {await world.state_of(d) for d in pending if d.recipient_id == bob.id} == {DeliveryState.SUMMARISED}
    assert {await world.state_of(d) for d in pending if d.recipient_id == carol.id} == {DeliveryState.HELD}
    assert await world.services.delivery.release_held(bob.id) is None, "nothing held any more"
    # A summarised delivery is never sent, nor requeued.
    await world.services.delivery.requeue([d.id for d in pending if d.recipient_id == bob.id])
    assert {await world.state_of(d) for d in pending if d.recipient_id == bob.id} == {DeliveryState.SUMMARISED}
    assert await world.services.delivery.pending(10) == []


async def test_receipts_and_what_to_resend(world: World) -> None:
    alice, bob = await _alice_and_bob(world)
    posts = [await world.post(alice, f"n{n}", channel="engineering") for n in range(3)]
    await world.expand()
    first, second, third = await world.services.delivery.pending(10)
    await world.services.delivery.mark_sent([first.id, second.id, third.id])
    clock = world.runtime.services.context.clock
    later = clock.now() + timedelta(seconds=1)

    assert await world.services.delivery.record_receipt("Bob@Example.com/laptop", origin_id_for_post(posts[0]))
    assert not await world.services.delivery.record_receipt("bob@example.com", "post-1"), "no such delivery"
    assert not await world.services.delivery.record_receipt("nobody@example.com", origin_id_for_post(posts[1]))
    assert not await world.services.delivery.record_receipt("alice@example.com", origin_id_for_post(posts[1]))
    await world.services.posts.delete(alice, posts[2])

    unreceipted = await world.services.delivery.unreceipted(bob.id, later)
    assert [d.origin_id for d in unreceipted] == [origin_id_for_post(posts[1])], "receipted and deleted left out"
    assert unreceipted[0].post is not None
    assert unreceipted[0].post.text == "n1"
    assert await world.services.delivery.unreceipted(bob.id, first.created_at - timedelta(seconds=1)) == []

    # The resend: back to PENDING with the same origin-id, then sent again, later.
    first_sent = await world.sent_at(second)
    assert first_sent is not None
    await world.services.delivery.requeue([unreceipted[0].id])
    (resend,) = await world.services.delivery.pending(10)
    assert (resend.id, resend.origin_id) == (second.id, second.origin_id)
    await world.services.delivery.mark_sent([resend.id])
    resent = await world.sent_at(second)
    assert resent is not None
    assert resent >= first_sent

    # A second receipt for the same copy keeps the first time.
    receipt = await world.receipt_at(first)
    assert receipt is not None
    assert await world.services.delivery.record_receipt("bob@example.com", origin_id_for_post(posts[0]))
    assert await world.receipt_at(first) == receipt
