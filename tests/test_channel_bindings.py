"""Channels bound to directory groups, against a real slapd, on SQLite and PostgreSQL (issue 6, acceptance 3
and the binding half of 5): the directory decides who belongs, who may read a private channel and who gets
its posts on IM, at the next sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import ChannelSeed, LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import origin_id_for_post
from intrablog.runtime import build_app
from tests.support.app_fixtures import DEMO_CHANNELS, Api, make_settings
from tests.support.im_world import World, open_world

BASE = "dc=example,dc=com"
ENGINEERING = f"cn=engineering,ou=groups,{BASE}"
BOUND = [
    *DEMO_CHANNELS,
    ChannelSeed(name="eng-secret", title="Engineering only", visibility="private", groups=["engineering"]),
    # By DN (a groupOfNames) and by name (a posixGroup).
    ChannelSeed(name="people-ops", title="People ops", groups=[f"CN=hr,ou=groups,{BASE}"]),
    ChannelSeed(name="on-call", title="On call", groups=["oncall"], admin_groups=["admins"]),
]
# A groupOfNames keeps at least one member: carol leaves hr as dave joins it.
HR_WITHOUT_CAROL = (
    f"dn: cn=hr,ou=groups,{BASE}\nchangetype: modify\nreplace: member\nmember: uid=dave,ou=people,{BASE}\n"
)
ONCALL = (
    f"dn: cn=oncall,ou=groups,{BASE}\nobjectClass: posixGroup\ncn: oncall\ngidNumber: 5000\n"
    "memberUid: carol\nmemberUid: dave\n"
)


@pytest.fixture
async def bound(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[tuple[Api, World]]:
    settings = make_settings(database_url, private_ldap_config, channels=BOUND)
    async with (
        open_world(database_url, private_ldap_config, channels=BOUND) as world,
        TestClient(TestServer(build_app(settings))) as client,
    ):
        yield Api(client), world


def _engineering_member(slapd: Slapd, change: str, username: str) -> None:
    slapd.modify_ldif(
        f"dn: {ENGINEERING}\nchangetype: modify\n{change}: member\nmember: uid={username},ou=people,{BASE}\n"
    )


async def _members(api: Api, channel: str) -> dict[str, tuple[str, str]]:
    members: list[dict[str, Any]] = await api.json("GET", f"/api/v1/channels/{channel}/members", "alice")
    return {member["username"]: (member["role"], member["source"]) for member in members}


async def _sync(world: World) -> int:
    report = await world.services.directory_sync.run()
    assert report.ok, report.error
    return report.channel_memberships_changed


async def test_leaving_the_group_ends_membership_private_access_and_im_delivery_at_the_next_sync(
    bound: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = bound
    await _sync(world)
    for name in ("alice", "bob"):
        await api.login(name)
    alice = await world.sign_in("alice")

    assert await _members(api, "eng-secret") == {"alice": ("member", "group"), "bob": ("member", "group")}
    assert (await api.call("GET", "/api/v1/channels/eng-secret/posts", "bob")).status == 200
    first = await world.post(alice, "design review at 3", channel="eng-secret")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(first)) == {"bob": ("channel", "pending")}

    _engineering_member(private_slapd, "delete", "bob")
    # The directory's word arrives through the sync only.
    assert (await api.call("GET", "/api/v1/channels/eng-secret", "bob")).status == 200
    assert await _sync(world) == 2  # eng-secret and engineering

    assert await _members(api, "eng-secret") == {"alice": ("member", "group")}
    for path in ("/api/v1/channels/eng-secret", "/api/v1/channels/eng-secret/posts"):
        response = await api.call("GET", path, "bob")
        assert response.status == 404, path
        assert response.content_type == "application/problem+json"
    secret_names = [channel["name"] for channel in await api.json("GET", "/api/v1/channels", "bob")]
    assert "eng-secret" not in secret_names
    second = await world.post(alice, "the new architecture", channel="eng-secret")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(second)) == {}

    _engineering_member(private_slapd, "add", "bob")
    assert await _sync(world) == 2
    assert await _members(api, "eng-secret") == {"alice": ("member", "group"), "bob": ("member", "group")}
    assert (await api.call("GET", "/api/v1/channels/eng-secret/posts", "bob")).status == 200
    third = await world.post(alice, "welcome back", channel="eng-secret")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(third)) == {"bob": ("channel", "pending")}
    # A sync with nothing new changes nothing.
    assert await _sync(world) == 0


async def test_group_of_names_and_posix_groups_bind_by_dn_or_by_name(
    bound: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = bound
    private_slapd.load_ldif(ONCALL)
    await _sync(world)
    await api.login("alice")

    assert await _members(api, "people-ops") == {"carol": ("member", "group")}
    # alice: admin of on-call through the admins group; carol and dave: members through the posixGroup.
    assert await _members(api, "on-call") == {
        "alice": ("admin", "group"),
        "carol": ("member", "group"),
        "dave": ("member", "group"),
    }
    dave = await world.sign_in("dave")
    async with world.runtime.database.unit_of_work() as uow:
        channel = await uow.channels.by_name("on-call")
        assert channel is not None
        assert await uow.follows.follows_channel(dave.id, channel.id)

    private_slapd.modify_ldif(
        f"dn: cn=oncall,ou=groups,{BASE}\nchangetype: modify\ndelete: memberUid\nmemberUid: dave\n"
    )
    await _sync(world)
    assert set(await _members(api, "on-call")) == {"alice", "carol"}


async def test_a_manual_membership_outlives_the_group_and_a_stronger_group_role_takes_it_over(
    bound: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = bound
    await _sync(world)
    await api.login("carol")
    await api.login("alice")
    await api.json("POST", "/api/v1/channels/launch/follow", "carol")
    await api.json("POST", "/api/v1/channels/launch/groups", "alice", status=201, json={"group": "hr"})
    # Same role: the membership stays carol's own.
    assert (await _members(api, "launch"))["carol"] == ("member", "manual")
    await api.json("DELETE", "/api/v1/channels/launch/groups/hr", "alice", status=204)
    assert (await _members(api, "launch"))["carol"] == ("member", "manual")

    await api.json(
        "POST", "/api/v1/channels/launch/groups", "alice", status=201, json={"group": "hr", "role": "poster"}
    )
    assert (await _members(api, "launch"))["carol"] == ("poster", "group")
    private_slapd.modify_ldif(HR_WITHOUT_CAROL)
    await _sync(world)
    assert "carol" not in await _members(api, "launch")


async def test_only_site_admins_bind_and_unbind_and_the_effect_is_immediate(bound: tuple[Api, World]) -> None:
    api, world = bound
    await _sync(world)
    for name in ("alice", "bob", "dave"):
        await api.login(name)
    binding = {"group": "HR", "role": "poster"}

    for who in ("bob", "dave"):
        denied = await api.call("POST", "/api/v1/channels/launch/groups", who, json=binding)
        assert denied.status == 403
        assert denied.content_type == "application/problem+json"
        assert (await api.call("DELETE", "/api/v1/channels/engineering/groups/engineering", who)).status == 403

    created = await api.json("POST", "/api/v1/channels/launch/groups", "alice", status=201, json=binding)
    assert created == {"channel": "launch", "group": "hr", "role": "poster", "source": "api"}
    assert await _members(api, "launch") == {"carol": ("poster", "group")}
    await api.json("DELETE", "/api/v1/channels/launch/groups/hr", "alice", status=204)
    assert await _members(api, "launch") == {}

    await api.json("DELETE", "/api/v1/channels/launch/groups/hr", "alice", status=404)
    await api.json("DELETE", "/api/v1/channels/engineering/groups/engineering", "alice", status=409)
    await api.json("POST", "/api/v1/channels/no-such/groups", "alice", status=404, json=binding)
    for body, field in (({"group": " "}, "group"), ({"group": "hr", "role": "boss"}, "role")):
        bad = await api.json("POST", "/api/v1/channels/launch/groups", "alice", status=422, json=body)
        assert [error["field"] for error in bad["errors"]] == [field]


async def test_a_channels_bindings_are_listed_with_where_they_come_from_to_its_readers_only(
    bound: tuple[Api, World],
) -> None:
    api, world = bound
    await _sync(world)
    for name in ("alice", "bob", "dave"):
        await api.login(name)
    await api.json("POST", "/api/v1/channels/on-call/groups", "alice", status=201, json={"group": "HR"})

    listed = await api.json("GET", "/api/v1/channels/on-call/groups", "dave")
    assert listed == [
        {"channel": "on-call", "group": "admins", "role": "admin", "source": "config"},
        {"channel": "on-call", "group": "hr", "role": "member", "source": "api"},
        {"channel": "on-call", "group": "oncall", "role": "member", "source": "config"},
    ]
    assert await api.json("GET", "/api/v1/channels/launch/groups", "dave") == []
    # The private channel's bindings: its members see them; to anyone else it does not exist.
    assert await api.json("GET", "/api/v1/channels/eng-secret/groups", "bob") == [
        {"channel": "eng-secret", "group": "engineering", "role": "member", "source": "config"}
    ]
    hidden = await api.call("GET", "/api/v1/channels/eng-secret/groups", "dave")
    missing = await api.call("GET", "/api/v1/channels/no-such/groups", "dave")
    assert (hidden.status, missing.status) == (404, 404)
    assert (await hidden.json())["detail"] == (await missing.json())["detail"].replace("no-such", "eng-secret")


async def test_site_admins_and_announcement_posters_come_from_groups(
    database_url: str, private_ldap_config: LdapConfig, private_slapd: Slapd
) -> None:
    # No usernames in the config: the groups alone decide.
    channels = [
        ChannelSeed(name="announcements", title="News", kind="announcement", poster_groups=["hr", "executives"])
    ]
    settings: dict[str, Any] = {"channels": channels, "admins": [], "admin_groups": ["admins"]}
    async with open_world(database_url, private_ldap_config, **settings) as world:
        await _sync(world)
        api_settings = make_settings(database_url, private_ldap_config, **settings)
        async with TestClient(TestServer(build_app(api_settings))) as client:
            api = Api(client)
            for name in ("alice", "carol", "dave"):
                await api.login(name)
            assert (await api.json("GET", "/api/v1/me", "alice"))["is_site_admin"] is True
            assert (await api.json("GET", "/api/v1/me", "carol"))["is_site_admin"] is False
            members = await _members(api, "announcements")
            assert members == {
                "alice": ("poster", "group"),
                "bob": ("member", "manual"),
                "carol": ("poster", "group"),
                "dave": ("member", "manual"),
            }
            await api.post("carol", "benefits enrolment opens Monday", channel="announcements")
            assert (
                await api.call("POST", "/api/v1/posts", "dave", json={"text": "hi", "channel": "announcements"})
            ).status == 403

            private_slapd.modify_ldif(HR_WITHOUT_CAROL)
            await _sync(world)
            # Back to a plain member who still follows: everyone belongs to an announcement channel.
            assert (await _members(api, "announcements"))["carol"] == ("member", "manual")
            assert (
                await api.call("POST", "/api/v1/posts", "carol", json={"text": "x", "channel": "announcements"})
            ).status == 403
            carol = await world.sign_in("carol")
            async with world.runtime.database.unit_of_work() as uow:
                channel = await uow.channels.by_name("announcements")
                assert channel is not None
                assert await uow.follows.follows_channel(carol.id, channel.id)
