"""The audit log records what changed, by whom, in the transaction of the change (issue 6, item 7).

Every entry here comes from the real operation: the API, a directory sync against a real slapd changed with
ldapmodify, a sync that fails because slapd is stopped, and a sign-in. The log is read back through
``GET /api/v1/admin/audit``. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import ChannelSeed, LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.runtime import build_app
from tests.support.app_fixtures import DEMO_CHANNELS, Api, make_settings
from tests.support.audit_log import configured_posters, entry, seeded_channels
from tests.support.directory_data import delete_person, generated_ldif
from tests.support.im_world import World, open_world

BASE = "dc=example,dc=com"
ENGINEERING = f"cn=engineering,ou=groups,{BASE}"
SIGN_IN = "directory groups at sign-in"
SPAM = " ".join(["buy now"] * 30)


@pytest.fixture
async def audited(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[tuple[Api, World]]:
    """The demo channels seeded, the app on the same database, and slapd free to change or stop."""
    async with (
        open_world(database_url, private_ldap_config) as world,
        TestClient(TestServer(build_app(make_settings(database_url, private_ldap_config)))) as client,
    ):
        yield Api(client), world


async def _log(api: Api, action: str | None = None) -> list[dict[str, Any]]:
    """The whole log, newest first, without ids and times (checked by the paging tests)."""
    params = {"limit": "100", **({"action": action} if action else {})}
    entries: list[dict[str, Any]] = await api.json("GET", "/api/v1/admin/audit", "alice", params=params)
    for each in entries:
        assert datetime.fromisoformat(each.pop("at")).tzinfo is not None
        each.pop("id")
    return entries


async def _sync(world: World) -> None:
    report = await world.services.directory_sync.run()
    assert report.ok, report.error


async def test_joining_leaving_and_creating_a_channel_are_recorded_with_who_did_it(audited: tuple[Api, World]) -> None:
    api, _ = audited
    for name in ("alice", "bob", "carol"):
        await api.login(name)
    created = {"name": "book-club", "title": "Book club", "visibility": "public"}
    await api.json("POST", "/api/v1/channels", "bob", status=201, json=created)
    await api.json("POST", "/api/v1/channels/book-club/follow", "carol")
    await api.json("POST", "/api/v1/channels/book-club/follow", "carol")  # again: no change, no entry
    await api.json("DELETE", "/api/v1/channels/book-club/follow", "carol")
    await api.json("DELETE", "/api/v1/channels/book-club/follow", "bob")  # the channel's admin stays a member
    # Refused: nothing changed, so nothing is recorded.
    await api.json("DELETE", "/api/v1/channels/announcements/follow", "carol", status=403)

    assert await _log(api) == [
        entry("carol", "membership.removed", "channel book-club", member="carol", role="member"),
        entry("carol", "membership.added", "channel book-club", member="carol", role="member"),
        entry(
            "bob",
            "channel.created",
            "channel book-club",
            admin="bob",
            kind="team",
            title="Book club",
            visibility="public",
        ),
        # The config makes alice and carol posters of announcements at their first sign-in; bob's plain
        # announcement membership is not recorded.
        *configured_posters(["alice", "bob", "carol"]),
        *seeded_channels(),
    ]


async def test_bindings_through_the_admin_api_record_the_binding_and_the_memberships_it_changed(
    audited: tuple[Api, World],
) -> None:
    api, world = audited
    await _sync(world)
    for name in ("alice", "bob"):
        await api.login(name)
    before = await _log(api)

    await api.json(
        "POST", "/api/v1/channels/launch/groups", "alice", status=201, json={"group": "HR", "role": "poster"}
    )
    await api.json(
        "POST", "/api/v1/channels/launch/groups", "alice", status=201, json={"group": "hr", "role": "poster"}
    )
    await api.json("POST", "/api/v1/channels/launch/groups", "alice", status=201, json={"group": "hr", "role": "admin"})
    await api.json("DELETE", "/api/v1/channels/launch/groups/hr", "alice", status=204)
    # Refused or impossible: no entry.
    await api.json("POST", "/api/v1/channels/launch/groups", "bob", status=403, json={"group": "hr"})
    await api.json("DELETE", "/api/v1/channels/engineering/groups/engineering", "alice", status=409)
    await api.json("DELETE", "/api/v1/channels/launch/groups/hr", "alice", status=404)

    launch = "channel launch"
    counts = {"memberships_added": 0, "memberships_removed": 0, "roles_changed": 0}
    assert (await _log(api))[: -len(before)] == [
        entry(
            "alice",
            "binding.removed",
            launch,
            group="hr",
            role="admin",
            **(counts | {"memberships_removed": 1}),
            changes=[{"channel": "launch", "change": "membership.removed", "member": "carol", "role": "admin"}],
        ),
        entry(
            "alice",
            "binding.added",
            launch,
            group="hr",
            role="admin",
            previous_role="poster",
            **(counts | {"roles_changed": 1}),
            changes=[
                {"channel": "launch", "change": "role.changed", "member": "carol", "before": "poster", "after": "admin"}
            ],
        ),
        # Binding hr again with the role it had changed nothing: not recorded.
        entry(
            "alice",
            "binding.added",
            launch,
            group="hr",
            role="poster",
            **(counts | {"memberships_added": 1}),
            changes=[{"channel": "launch", "change": "membership.added", "member": "carol", "role": "poster"}],
        ),
    ]


async def test_a_sync_is_one_entry_with_counts_and_the_people_and_memberships_it_changed(
    audited: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = audited
    await _sync(world)
    await api.login("alice")
    first = (await _log(api, "sync."))[0]
    assert first["actor"] is None
    assert first["subject"] == "directory"
    details = first["details"]
    assert isinstance(details.pop("seconds"), float)
    added = [
        {"channel": "announcements", "change": "membership.added", "member": name, "role": "member"}
        for name in ("alice", "bob", "carol", "dave")
    ]
    assert details == {
        "people": 4,
        "groups": 4,
        "group_memberships": 5,
        "created": 4,
        "created_usernames": ["alice", "bob", "carol", "dave"],
        "updated": 0,
        "deactivated": 0,
        "reactivated": 0,
        "sessions_revoked": 0,
        # Everyone joins the announcement channel; its poster groups make alice and carol posters; the
        # engineering group makes alice and bob members of engineering.
        "memberships_added": 6,
        "memberships_removed": 0,
        "roles_changed": 2,
        "changes": [
            *added[:1],
            {
                "channel": "announcements",
                "change": "role.changed",
                "member": "alice",
                "before": "member",
                "after": "poster",
            },
            *added[1:3],
            {
                "channel": "announcements",
                "change": "role.changed",
                "member": "carol",
                "before": "member",
                "after": "poster",
            },
            *added[3:],
            {"channel": "engineering", "change": "membership.added", "member": "alice", "role": "member"},
            {"channel": "engineering", "change": "membership.added", "member": "bob", "role": "member"},
        ],
    }
    # The sync's changes are in its one entry, not one entry per person.
    assert await _log(api, "membership.") == []
    assert await _log(api, "role.") == []

    # bob leaves the engineering group and dave leaves the company.
    private_slapd.modify_ldif(
        f"dn: {ENGINEERING}\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people,{BASE}\n"
    )
    delete_person(private_slapd, "dave")
    await _sync(world)

    second = (await _log(api, "sync.finished"))[0]["details"]
    del second["seconds"]
    assert second == {
        "people": 3,
        "groups": 4,
        "group_memberships": 4,
        "created": 0,
        "updated": 0,
        "deactivated": 1,
        "deactivated_usernames": ["dave"],
        "reactivated": 0,
        "sessions_revoked": 0,
        "memberships_added": 0,
        "memberships_removed": 1,
        "roles_changed": 0,
        "changes": [{"channel": "engineering", "change": "membership.removed", "member": "bob", "role": "member"}],
    }
    assert [each["action"] for each in await _log(api, "sync.")] == ["sync.finished", "sync.finished"]


async def test_a_large_sync_gives_counts_and_names_deactivated_people_up_to_a_cap(
    audited: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = audited
    private_slapd.load_ldif(generated_ldif(people=260, groups=0))
    await _sync(world)
    await api.login("alice")
    first = (await _log(api, "sync.finished"))[0]["details"]
    assert (first["created"], first["memberships_added"], first["roles_changed"]) == (264, 266, 2)
    # Too many to name: counts only.
    assert "created_usernames" not in first
    assert "changes" not in first

    private_slapd.modify_ldif(
        "\n".join(f"dn: uid=staff{n:05d},ou=staff,{BASE}\nchangetype: delete\n" for n in range(260))
    )
    await _sync(world)

    second = (await _log(api, "sync.finished"))[0]["details"]
    assert second["deactivated"] == 260
    assert second["deactivated_usernames"] == [f"staff{n:05d}" for n in range(200)]


async def test_a_failed_sync_leaves_a_sync_failed_entry_with_the_error_and_nothing_else(
    audited: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = audited
    await api.login("alice")
    private_slapd.stop()
    try:
        report = await world.services.directory_sync.run()
    finally:
        private_slapd.start()
    assert not report.ok

    entries = await _log(api, "sync.")
    assert len(entries) == 1
    assert entries[0]["actor"] is None
    assert entries[0]["action"] == "sync.failed"
    assert entries[0]["subject"] == "directory"
    assert entries[0]["details"] == {"error": report.error}
    assert "directory unavailable" in entries[0]["details"]["error"]
    # Nothing else: the seeded channels, alice's sign-in, then the failure.
    assert await _log(api) == [*entries, *configured_posters(["alice"]), *seeded_channels()]


async def test_deleting_someone_elses_post_is_recorded_deleting_ones_own_is_not(audited: tuple[Api, World]) -> None:
    api, world = audited
    await _sync(world)
    for name in ("alice", "bob", "carol"):
        await api.login(name)
    own = await api.post("bob", "typo, deleting", channel="engineering")
    await api.json("DELETE", f"/api/v1/posts/{own['id']}", "bob", status=204)
    moderated = await api.post("bob", "something a site admin removes", channel="engineering")
    await api.json("DELETE", f"/api/v1/posts/{moderated['id']}", "alice", status=204)
    # carol creates a channel and so is its admin (not a site admin); bob posts there.
    await api.json("POST", "/api/v1/channels", "carol", status=201, json={"name": "book-club", "title": "Books"})
    await api.json("POST", "/api/v1/channels/book-club/follow", "bob")
    spam = await api.post("bob", SPAM, channel="book-club")
    await api.json("DELETE", f"/api/v1/posts/{spam['id']}", "carol", status=204)
    await api.json("DELETE", f"/api/v1/posts/{spam['id']}", "carol", status=404)  # gone: no second entry

    assert await _log(api, "post.") == [
        entry(
            "carol",
            "post.deleted",
            f"post {spam['id']}",
            author="bob",
            channel="book-club",
            deleted_as="channel admin",
            excerpt=SPAM[:140],
        ),
        entry(
            "alice",
            "post.deleted",
            f"post {moderated['id']}",
            author="bob",
            channel="engineering",
            deleted_as="site admin",
            excerpt="something a site admin removes",
        ),
    ]


async def test_roles_granted_by_groups_at_sign_in_are_recorded_for_that_person(
    database_url: str, private_ldap_config: LdapConfig
) -> None:
    async with open_world(database_url, private_ldap_config) as world:
        await _sync(world)
    # A new bound channel in the config file; bob signs in before the next sync.
    channels = [
        *DEMO_CHANNELS,
        ChannelSeed(name="eng-secret", title="Eng", visibility="private", groups=["engineering"]),
    ]
    async with open_world(database_url, private_ldap_config, channels=channels) as world:
        settings = make_settings(database_url, private_ldap_config, channels=channels)
        async with TestClient(TestServer(build_app(settings))) as client:
            api = Api(client)
            await api.login("bob")
            await api.login("alice")

            entries = await _log(api, "membership.")
    assert entries == [
        entry(None, "membership.added", "channel eng-secret", member="alice", role="member", source=SIGN_IN),
        entry(None, "membership.added", "channel eng-secret", member="bob", role="member", source=SIGN_IN),
    ]
