"""The IM commands' use cases on SQLite and PostgreSQL, with the real slapd behind sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from intrablog.config import LdapConfig
from intrablog.domain.events import Followed, MembershipChanged
from intrablog.domain.im import MAX_TRACKED_WORDS, ImSettings, ImStats, ImSubscription, ImTarget
from intrablog.domain.model import Role
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.services.channels import NewChannel
from intrablog.storage.models import FavouriteRow
from tests.support.im_world import World, open_world

ENGINEERING = ImTarget("channel", "engineering")
ALICE = ImTarget("person", "alice")


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def test_user_for_jid_maps_the_directory_address(world: World) -> None:
    bob = await world.sign_in("bob")  # the real directory, its xmpp template
    assert bob.xmpp_address == "bob@example.com"
    for jid in ("bob@example.com", "Bob@Example.COM/Gajim.x1", " bob@example.com/phone "):
        found = await world.services.im.user_for_jid(jid)
        assert found is not None, jid
        assert found.id == bob.id
    assert await world.services.im.user_for_jid("mallory@example.com") is None
    assert await world.services.im.user_for_jid("") is None
    await world.deactivate(bob)
    assert await world.services.im.user_for_jid("bob@example.com") is None, "inactive is refused like unknown"


async def test_mixed_case_directory_addresses_are_stored_bare_and_lower_case(world: World) -> None:
    erin = await world.person("erin", xmpp="Erin.Smith@Chat.Example.com")
    assert erin.xmpp_address == "erin.smith@chat.example.com"
    found = await world.services.im.user_for_jid("ERIN.smith@chat.example.com/work")
    assert found is not None
    assert found.id == erin.id


async def test_follow_a_channel_joins_it_with_im_on_and_publishes(world: World) -> None:
    bob = await world.person("bob")
    subscription = world.runtime.events.subscribe()
    assert await world.services.im.follow(bob, ENGINEERING) == "Following engineering on IM."
    channel = (await world.services.channels.show(bob, "engineering")).channel
    assert await subscription.get() == MembershipChanged(channel.id, bob.id, Role.MEMBER)
    assert await subscription.get() == Followed(bob.id, channel_id=channel.id)
    view = await world.services.channels.show(bob, "engineering")
    assert (view.following, view.my_role) == (True, Role.MEMBER)

    # Following again (a roster subscription after `off`) turns IM delivery back on.
    await world.services.im.set_delivery(bob, ENGINEERING, on=False)
    assert await world.services.im.follow(bob, ENGINEERING) == "Following engineering on IM."
    assert (await world.services.im.settings(bob)).subscriptions == (ImSubscription("channel", "engineering", True),)
    subscription.close()


async def test_follow_refuses_what_cannot_be_followed(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.channels.create(alice, NewChannel(name="secret", title="Secret", visibility="private"))
    with pytest.raises(NotFound):
        await world.services.im.follow(bob, ImTarget("channel", "secret"))
    with pytest.raises(NotFound):
        await world.services.im.follow(bob, ImTarget("channel", "nowhere"))
    with pytest.raises(NotFound):
        await world.services.im.follow(bob, ImTarget("person", "nobody"))
    with pytest.raises(Invalid):
        await world.services.im.follow(bob, ImTarget("person", "bob"))
    await world.add_member("secret", bob)
    assert await world.services.im.follow(bob, ImTarget("channel", "secret")) == "Following secret on IM."


async def test_follow_a_person_and_the_global_switch(world: World) -> None:
    await world.person("alice")
    bob = await world.person("bob")
    assert await world.services.im.set_delivery(bob, None, on=False) == (
        "IM delivery is off; announcements still reach you. Send 'on' to turn it back on."
    )
    answer = await world.services.im.follow(bob, ALICE)
    assert answer == "Following @alice on IM. IM delivery is off for you overall: send 'on' to receive it."
    assert await world.services.im.set_delivery(bob, None, on=True) == "IM delivery is on."
    assert await world.services.im.settings(bob) == ImSettings(
        im_enabled=True, subscriptions=(ImSubscription("person", "alice", True),)
    )


async def test_per_follow_switch(world: World) -> None:
    await world.person("alice")
    bob = await world.person("bob")
    with pytest.raises(Invalid) as raised:
        await world.services.im.set_delivery(bob, ENGINEERING, on=False)
    assert "send 'follow engineering' first" in raised.value.detail
    with pytest.raises(Invalid):
        await world.services.im.set_delivery(bob, ALICE, on=False)
    await world.services.im.follow(bob, ENGINEERING)
    await world.services.people.follow_user(bob, "alice")
    assert await world.services.im.set_delivery(bob, ENGINEERING, on=False) == "IM delivery for engineering is off."
    assert await world.services.im.set_delivery(bob, ALICE, on=False) == "IM delivery for @alice is off."
    settings = await world.services.im.settings(bob)
    assert settings.subscriptions == (
        ImSubscription("channel", "engineering", False),
        ImSubscription("person", "alice", False),
    )
    assert await world.services.im.set_delivery(bob, ALICE, on=True) == "IM delivery for @alice is on."


async def test_leave(world: World) -> None:
    await world.person("alice")
    bob = await world.person("bob")
    await world.services.im.follow(bob, ENGINEERING)
    await world.services.im.follow(bob, ALICE)
    assert await world.services.im.leave(bob, ENGINEERING) == "Stopped following engineering."
    view = await world.services.channels.show(bob, "engineering")
    assert (view.following, view.my_role) == (False, None), "a plain member of a public channel leaves it"
    assert await world.services.im.leave(bob, ENGINEERING) == "You were not following engineering."
    assert await world.services.im.leave(bob, ALICE) == "Stopped following @alice."
    assert await world.services.im.leave(bob, ALICE) == "You were not following @alice."
    with pytest.raises(Forbidden):
        await world.services.im.leave(bob, ImTarget("channel", "announcements"))
    assert (await world.services.im.settings(bob)).subscriptions == ()


async def test_latest_is_the_newest_readable_post(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    assert await world.services.im.latest(bob, ENGINEERING) is None
    await world.post(alice, "older", channel="engineering")
    newest = await world.post(alice, "newer", channel="engineering")
    latest = await world.services.im.latest(bob, ENGINEERING)
    assert latest is not None
    assert latest.id == newest
    await world.services.channels.create(alice, NewChannel(name="secret", title="Secret", visibility="private"))
    hidden = await world.post(alice, "hidden", channel="secret")
    person_latest = await world.services.im.latest(bob, ALICE)
    assert person_latest is not None
    assert person_latest.id == newest, "the private post stays hidden"
    from_alice = await world.services.im.latest(alice, ALICE)
    assert from_alice is not None
    assert from_alice.id == hidden
    with pytest.raises(NotFound):
        await world.services.im.latest(bob, ImTarget("channel", "secret"))
    with pytest.raises(NotFound):
        await world.services.im.latest(bob, ImTarget("person", "nobody"))


async def test_favourite_readable_posts_once(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    post_id = await world.post(alice, "nice one", channel="engineering")
    assert (await world.services.im.favourite(bob, post_id)).id == post_id
    assert (await world.services.im.favourite(bob, post_id)).text == "nice one"
    async with world.runtime.database.unit_of_work() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(FavouriteRow))).scalar_one()
    assert count == 1
    await world.services.channels.create(alice, NewChannel(name="secret", title="Secret", visibility="private"))
    hidden = await world.post(alice, "hidden", channel="secret")
    with pytest.raises(NotFound):
        await world.services.im.favourite(bob, hidden)
    with pytest.raises(NotFound):
        await world.services.im.favourite(bob, 12345)


async def test_track_untrack_and_the_limit(world: World) -> None:
    bob = await world.person("bob")
    assert await world.services.im.track(bob, " Deploy ") == "Tracking 'deploy'."
    assert await world.services.im.track(bob, "DEPLOY") == "You already track 'deploy'."
    with pytest.raises(Invalid):
        await world.services.im.track(bob, "x")
    with pytest.raises(Invalid):
        await world.services.im.track(bob, "two words")
    for n in range(MAX_TRACKED_WORDS - 1):
        await world.services.im.track(bob, f"word{n:02d}")
    with pytest.raises(Invalid) as raised:
        await world.services.im.track(bob, "onemore")
    assert f"the limit is {MAX_TRACKED_WORDS}" in raised.value.detail
    assert await world.services.im.track(bob, "deploy") == "You already track 'deploy'.", "not refused at the limit"
    words = [tracked.word for tracked in await world.services.im.tracks(bob)]
    assert len(words) == MAX_TRACKED_WORDS
    assert words == sorted(words)
    assert "deploy" in words
    assert await world.services.im.untrack(bob, "Deploy") is True
    assert await world.services.im.untrack(bob, "deploy") is False
    assert await world.services.im.track(bob, "onemore") == "Tracking 'onemore'."


async def test_stats(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.person("carol")
    first = await world.post(bob, "one")
    deleted = await world.post(bob, "two")
    await world.services.posts.delete(bob, deleted)
    await world.services.people.follow_user(alice, "bob")
    await world.services.im.follow(bob, ALICE)
    await world.services.im.follow(bob, ImTarget("person", "carol"))
    await world.services.im.follow(bob, ENGINEERING)
    await world.services.im.track(bob, "deploy")
    await world.services.im.favourite(bob, first)
    assert await world.services.im.stats(bob) == ImStats(
        posts=1, followers=1, following_people=2, following_channels=1, tracked_words=1, favourites=1
    )
