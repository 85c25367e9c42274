"""Outbox → deliveries on SQLite and PostgreSQL: who gets a post on IM, once, with which reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from intrablog.config import LdapConfig, PostsConfig
from intrablog.domain.ids import IdGenerator
from intrablog.domain.im import ImTarget, origin_id_for_message, origin_id_for_post, words_in
from intrablog.domain.model import Role
from intrablog.errors import Conflict, Forbidden
from intrablog.services.channels import NewChannel
from intrablog.services.context import ServiceContext
from intrablog.services.posts import PostDraft, PostService
from intrablog.storage.models import DeliveryRow, OutboxRow
from tests.support.im_world import World, open_world

ENGINEERING = ImTarget("channel", "engineering")


class FixedClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def test_channel_followers_get_a_post_once_and_the_author_never(world: World) -> None:
    alice, bob, carol = await world.person("alice"), await world.person("bob"), await world.person("carol")
    for user in (alice, bob, carol):
        await world.services.im.follow(user, ENGINEERING)
    post_id = await world.post(alice, "standup in 5", channel="engineering")

    assert await world.services.delivery.backlog() == 1, "one outbox row, not yet expanded"
    assert await world.expand() == 1
    expected = {"bob": ("channel", "pending"), "carol": ("channel", "pending")}
    assert await world.deliveries_of(origin_id_for_post(post_id)) == expected

    # Expanding the same row again (as after a crash before the commit) adds nothing.
    async with world.runtime.database.unit_of_work() as uow:
        await uow.session.execute(update(OutboxRow).values(processed_at=None))
        await uow.commit()
    assert await world.expand() == 1
    assert await world.deliveries_of(origin_id_for_post(post_id)) == expected
    assert await world.count(DeliveryRow) == 2


async def test_expansion_takes_rows_oldest_first_up_to_the_limit(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.people.follow_user(bob, "alice")
    posts = [await world.post(alice, f"update {n}") for n in range(3)]
    assert await world.services.delivery.expand_outbox(limit=2) == 2
    assert list(await world.deliveries_of(origin_id_for_post(posts[2]))) == []
    assert list(await world.deliveries_of(origin_id_for_post(posts[1]))) == ["bob"]
    assert await world.services.delivery.expand_outbox(limit=2) == 1
    assert await world.services.delivery.expand_outbox(limit=2) == 0
    pending = await world.services.delivery.pending(10)
    assert [delivery.origin_id for delivery in pending] == [origin_id_for_post(post) for post in posts]


async def test_echo_suppression_whatever_the_reason(world: World) -> None:
    alice = await world.person("alice")
    await world.services.im.follow(alice, ENGINEERING)
    await world.services.im.track(alice, "release")
    post_id = await world.post(alice, "@alice: the release is out", channel="engineering")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(post_id)) == {}


async def test_private_channel_posts_reach_members_only(world: World) -> None:
    alice, bob, dave = await world.person("alice"), await world.person("bob"), await world.person("dave")
    root = await world.person("root", site_admin=True)
    await world.services.channels.create(alice, NewChannel(name="secret", title="Secret", visibility="private"))
    await world.add_member("secret", bob)
    await world.services.im.follow(bob, ImTarget("channel", "secret"))
    for outsider in (dave, root):
        await world.services.im.track(outsider, "merger")
        await world.services.people.follow_user(outsider, "alice")
    post_id = await world.post(alice, "The merger with @dave's firm", channel="secret")
    await world.expand()
    # dave follows alice, tracks the word and is mentioned, but may not read the channel; a site admin may.
    assert await world.deliveries_of(origin_id_for_post(post_id)) == {
        "bob": ("channel", "pending"),
        "root": ("track", "pending"),
    }


async def test_im_off_silences_all_but_announcements(world: World) -> None:
    alice = await world.person("alice")
    quiet, muted, normal = await world.person("quiet"), await world.person("muted"), await world.person("normal")
    nojid = await world.person("nojid", xmpp=None)
    gone = await world.person("gone")
    for user in (quiet, muted, normal, nojid, gone):
        await world.services.im.follow(user, ENGINEERING)
    await world.services.im.set_delivery(quiet, None, on=False)
    await world.services.im.set_delivery(muted, ENGINEERING, on=False)
    announcements = ImTarget("channel", "announcements")
    await world.services.im.follow(muted, announcements)
    assert "reach everyone" in await world.services.im.set_delivery(muted, announcements, on=False)
    await world.deactivate(gone)
    await world.add_member("announcements", alice, role=Role.POSTER)

    ordinary = await world.post(alice, "lunch?", channel="engineering")
    announcement = await world.post(alice, "Office closed Friday", channel="announcements")
    await world.expand()

    assert await world.deliveries_of(origin_id_for_post(ordinary)) == {"normal": ("channel", "pending")}
    # Announcements reach every active person with an address, whatever their switches (not the author).
    assert await world.deliveries_of(origin_id_for_post(announcement)) == {
        name: ("announcement", "pending") for name in ("quiet", "muted", "normal")
    }


async def test_mentions_and_tracks_reach_non_followers_once_with_the_strongest_reason(world: World) -> None:
    alice = await world.person("alice")
    names = ("fan", "mentioned", "tracker", "both", "follower", "loud")
    people = {name: await world.person(name) for name in names}
    await world.services.people.follow_user(people["fan"], "alice")
    await world.services.im.follow(people["both"], ImTarget("person", "alice"))
    await world.services.im.follow(people["both"], ENGINEERING)
    await world.services.im.track(people["both"], "outage")
    await world.services.im.follow(people["follower"], ENGINEERING)
    await world.services.im.follow(people["follower"], ImTarget("person", "alice"))
    await world.services.im.track(people["tracker"], "OUTAGE")
    await world.services.im.track(people["loud"], "outage")
    post_id = await world.post(alice, "Outage! @mentioned @both @loud @nobody please look", channel="engineering")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(post_id)) == {
        "fan": ("person", "pending"),
        "mentioned": ("mention", "pending"),
        "tracker": ("track", "pending"),
        "both": ("mention", "pending"),
        "follower": ("person", "pending"),
        "loud": ("mention", "pending"),
    }


async def test_announcement_beats_every_other_reason_but_keeps_one_row(world: World) -> None:
    carol, bob = await world.person("carol"), await world.person("bob")
    await world.add_member("announcements", carol, role=Role.POSTER)
    await world.services.people.follow_user(bob, "carol")
    await world.services.im.track(bob, "holiday")
    post_id = await world.post(carol, "Holiday on Monday, @bob", channel="announcements")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(post_id)) == {"bob": ("announcement", "pending")}


async def test_personal_updates_and_replies_reach_the_authors_followers(world: World) -> None:
    alice, bob, carol = await world.person("alice"), await world.person("bob"), await world.person("carol")
    await world.services.people.follow_user(bob, "alice")
    await world.services.im.follow(carol, ENGINEERING)
    update_id = await world.post(alice, "Working from Lisbon this week")
    root = await world.post(carol, "Who owns the build?", channel="engineering")
    reply = await world.post(alice, "I do", in_reply_to=root)
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(update_id)) == {"bob": ("person", "pending")}
    # A reply goes to the channel's followers (carol, the thread's author among them) and to alice's.
    assert await world.deliveries_of(origin_id_for_post(reply)) == {
        "bob": ("person", "pending"),
        "carol": ("channel", "pending"),
    }


async def test_one_outbox_row_per_post_however_many_followers(world: World) -> None:
    alice = await world.person("alice")
    await world.crowd("f", 300, follow_channel="engineering")
    post_id = await world.post(alice, "hello all", channel="engineering")
    assert await world.count(OutboxRow) == 1
    assert await world.count(DeliveryRow) == 0, "nothing per recipient in the post's transaction"
    await world.expand()
    assert await world.count(DeliveryRow, DeliveryRow.post_id == post_id) == 300


async def test_expanding_to_thousands_is_a_handful_of_statements(world: World) -> None:
    boss, carol = await world.person("boss"), await world.person("carol")
    await world.add_member("announcements", carol, role=Role.POSTER)
    await world.crowd("s", 2000, follow_user=boss)
    update_id = await world.post(boss, "Thanks, everyone")
    announcement = await world.post(carol, "All hands at 3", channel="announcements")
    with world.statements() as sql:
        assert await world.services.delivery.expand_outbox() == 2
    # Claim, load posts and messages, one channel, one INSERT … SELECT per row, mark processed: not per person.
    assert sql.count <= 12, f"{sql.count} statements"
    assert await world.count(DeliveryRow, DeliveryRow.post_id == update_id) == 2000
    assert await world.count(DeliveryRow, DeliveryRow.post_id == announcement) == 2001, "everyone but carol"


async def test_a_post_that_fails_writes_no_outbox_row(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    with pytest.raises(Forbidden):
        await world.services.posts.create(bob, PostDraft(text="hi all", channel="announcements"))
    # Two services drawing the same id at the same instant: the second post fails in its transaction.
    clock = FixedClock()
    for attempt in range(2):
        context = ServiceContext(
            database=world.runtime.database,
            directory=world.runtime.directory,
            events=world.runtime.events,
            clock=clock,
            ids=IdGenerator(node=1),
        )
        if attempt == 0:
            await PostService(context).create(alice, PostDraft(text="first"))
        else:
            with pytest.raises(Conflict):
                await PostService(context).create(alice, PostDraft(text="second"))
    assert await world.count(OutboxRow) == 1


async def test_a_post_deleted_before_expansion_goes_to_nobody(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    await world.services.people.follow_user(bob, "alice")
    post_id = await world.post(alice, "oops")
    await world.services.posts.delete(alice, post_id)
    assert await world.expand() == 1
    assert await world.deliveries_of(origin_id_for_post(post_id)) == {}
    assert await world.services.delivery.backlog() == 0


async def test_direct_messages_reach_their_recipient_only(world: World) -> None:
    alice, bob = await world.person("alice"), await world.person("bob")
    nojid, quiet = await world.person("nojid", xmpp=None), await world.person("quiet")
    await world.services.im.set_delivery(quiet, None, on=False)
    sent = [await world.services.messages.send(alice, name, "ping") for name in ("bob", "nojid", "quiet")]
    await world.services.people.follow_user(bob, "alice")
    assert await world.expand() == 3
    assert await world.deliveries_of(origin_id_for_message(sent[0].id)) == {"bob": ("direct", "pending")}
    assert await world.deliveries_of(origin_id_for_message(sent[1].id)) == {}, "no IM address"
    assert await world.deliveries_of(origin_id_for_message(sent[2].id)) == {}, "IM switched off"
    assert (nojid.xmpp_address, bob.xmpp_address) == (None, "bob@example.com")


async def test_a_very_long_post_still_reaches_its_trackers(database_url: str, ldap_config: LdapConfig) -> None:
    """More distinct words than a statement may bind (about 32,000) still expand in one INSERT."""
    async with open_world(database_url, ldap_config, posts=PostsConfig(max_post_chars=100_000)) as world:
        alice, bob = await world.person("alice"), await world.person("bob")
        await world.services.im.track(bob, "04d2")
        # 12,000 chunks like "(04d2)," each offer six forms ("(04d2),", "(04d2)", ..., "04d2"): 72,000 words.
        text = " ".join(f"({n:04x})," for n in range(12_000))
        assert len(text) <= 100_000
        assert len(words_in(text)) > 40_000
        post_id = await world.post(alice, text)
        await world.expand()
        assert await world.deliveries_of(origin_id_for_post(post_id)) == {"bob": ("track", "pending")}
