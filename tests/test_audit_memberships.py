"""Memberships that people get without an admin: poster roles the config grants at sign-in, joins over IM.

Sign-in goes through the real slapd (the session's, only read), the directory sync reads it too, and the IM
commands run through ``services.im`` as the bridge calls them. The whole log is compared after each step, so
an entry too many (a repeat, a plain announcement membership) fails as surely as one missing. SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from intrablog.config import ChannelSeed, LdapConfig
from intrablog.domain.im import ImTarget
from intrablog.domain.model import Role, User
from intrablog.errors import Forbidden
from intrablog.services.channels import NewChannel
from tests.support.app_fixtures import DEMO_CHANNELS
from tests.support.audit_log import CONFIG_AT_SIGN_IN, as_entries, configured_posters, entry, seeded_channels
from tests.support.im_world import World, open_world

LAUNCH = ImTarget("channel", "launch")
ENGINEERING = ImTarget("channel", "engineering")


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def _log(world: World, auditor: User) -> list[dict[str, Any]]:
    """The whole log, newest first, as the API shows it without ids and times."""
    page = await world.services.audit.list(auditor, limit=100)
    assert page.next_before is None
    return as_entries(page.items)


async def _role(world: World, user: User, channel: str) -> Role | None:
    return (await world.services.channels.show(user, channel)).my_role


async def test_a_configured_poster_role_is_one_entry_at_the_first_sign_in_and_none_after(world: World) -> None:
    # A site admin who never signs in reads the log, so reading it adds nothing.
    auditor = await world.person("root", site_admin=True)
    assert await _log(world, auditor) == seeded_channels()

    alice = await world.sign_in("alice")  # a poster of announcements by the config
    assert await _role(world, alice, "announcements") is Role.POSTER
    after_first = await _log(world, auditor)
    assert after_first == [
        entry(
            None, "membership.added", "channel announcements", member="alice", role="poster", source=CONFIG_AT_SIGN_IN
        ),
        *seeded_channels(),
    ]
    assert after_first == [*configured_posters(["alice"]), *seeded_channels()]  # the helper the other tests use

    await world.sign_in("alice")
    # bob joins announcements as a plain member, as everyone does: not worth an entry.
    bob = await world.sign_in("bob")
    assert await _role(world, bob, "announcements") is Role.MEMBER
    await world.sign_in("bob")
    assert await _log(world, auditor) == after_first


async def test_a_plain_member_made_a_poster_by_the_config_is_one_role_change_that_later_syncs_keep(
    database_url: str, ldap_config: LdapConfig
) -> None:
    # bob is in no poster group: the sync makes him a plain member of announcements, the config a poster.
    channels = [
        seed.model_copy(update={"posters": [*seed.posters, "bob"]}) if seed.name == "announcements" else seed
        for seed in DEMO_CHANNELS
    ]
    async with open_world(database_url, ldap_config, channels=channels) as world:
        auditor = await world.person("root", site_admin=True)
        report = await world.services.directory_sync.run()
        assert report.ok, report.error
        before = await _log(world, auditor)
        assert [each["action"] for each in before] == ["sync.finished", *["channel.created"] * 3]

        bob = await world.sign_in("bob")
        # alice is a poster already, by her group: the config changes nothing for her.
        await world.sign_in("alice")
        promoted = entry(
            None,
            "role.changed",
            "channel announcements",
            member="bob",
            before="member",
            after="poster",
            source=CONFIG_AT_SIGN_IN,
        )
        assert await _log(world, auditor) == [promoted, *before]

        # The config's role is not a group's: the next sync leaves it, so the next sign-in has nothing to redo.
        report = await world.services.directory_sync.run()
        assert report.ok, report.error
        await world.sign_in("bob")
        assert await _role(world, bob, "announcements") is Role.POSTER
        after = await _log(world, auditor)
        assert after[0]["action"] == "sync.finished"
        assert "changes" not in after[0]["details"]
        assert after[1:] == [promoted, *before]


async def test_a_configured_poster_of_a_team_channel_joins_it_at_sign_in_once(
    database_url: str, ldap_config: LdapConfig
) -> None:
    channels = [*DEMO_CHANNELS, ChannelSeed(name="design", title="Design", posters=["bob"])]
    async with open_world(database_url, ldap_config, channels=channels) as world:
        auditor = await world.person("root", site_admin=True)
        await world.sign_in("bob")
        await world.sign_in("bob")
        assert await _log(world, auditor) == [*configured_posters(["bob"], channels), *seeded_channels(channels)]
        assert configured_posters(["bob"], channels) == [
            entry(None, "membership.added", "channel design", member="bob", role="poster", source=CONFIG_AT_SIGN_IN)
        ]


async def test_joining_and_leaving_a_public_channel_over_im_is_recorded_once_each_with_via_im(world: World) -> None:
    auditor = await world.person("root", site_admin=True)
    bob = await world.person("bob")
    joined = entry("bob", "membership.added", "channel launch", member="bob", role="member", via="im")
    left = entry("bob", "membership.removed", "channel launch", member="bob", role="member", via="im")

    assert await world.services.im.follow(bob, LAUNCH) == "Following launch on IM."
    assert await world.services.im.follow(bob, LAUNCH) == "Following launch on IM."  # a member already
    assert await _log(world, auditor) == [joined, *seeded_channels()]

    assert await world.services.im.leave(bob, LAUNCH) == "Stopped following launch."
    assert await _role(world, bob, "launch") is None
    assert await world.services.im.leave(bob, LAUNCH) == "You were not following launch."
    assert await _log(world, auditor) == [left, joined, *seeded_channels()]


async def test_following_over_im_what_one_belongs_to_already_records_nothing(world: World) -> None:
    auditor = await world.person("root", site_admin=True)
    bob, carol = await world.person("bob"), await world.person("carol")
    await world.services.channels.follow(bob, "engineering")  # joined on the web: recorded without "via"
    await world.services.channels.create(carol, NewChannel(name="book-club", title="Books"))
    await world.services.channels.create(carol, NewChannel(name="secret", title="Secret", visibility="private"))
    await world.add_member("secret", bob)
    before = await _log(world, auditor)
    assert before[:3] == [
        entry(
            "carol",
            "channel.created",
            "channel secret",
            admin="carol",
            kind="team",
            title="Secret",
            visibility="private",
        ),
        entry(
            "carol",
            "channel.created",
            "channel book-club",
            admin="carol",
            kind="team",
            title="Books",
            visibility="public",
        ),
        entry("bob", "membership.added", "channel engineering", member="bob", role="member"),
    ]

    await world.services.im.follow(bob, ENGINEERING)
    await world.services.im.follow(bob, ImTarget("channel", "secret"))
    await world.services.im.follow(carol, ImTarget("channel", "book-club"))
    # Leaving keeps a channel admin's membership, and any membership of a private channel: nothing to record.
    assert await world.services.im.leave(carol, ImTarget("channel", "book-club")) == "Stopped following book-club."
    assert await _role(world, carol, "book-club") is Role.ADMIN
    assert await world.services.im.leave(bob, ImTarget("channel", "secret")) == "Stopped following secret."
    assert await _role(world, bob, "secret") is Role.MEMBER
    with pytest.raises(Forbidden):  # an announcement channel cannot be left
        await world.services.im.leave(bob, ImTarget("channel", "announcements"))
    assert await _log(world, auditor) == before

    # Leaving what one joined on the web, over IM: recorded as done over IM.
    await world.services.im.leave(bob, ENGINEERING)
    left = entry("bob", "membership.removed", "channel engineering", member="bob", role="member", via="im")
    assert await _log(world, auditor) == [left, *before]
