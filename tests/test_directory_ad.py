"""Active Directory against a real domain controller (Samba 4 AD DC), issue 6 item 1.

intrablog configured as deploy/intrablog.example.toml's "Active Directory instead" block says: direct binds as
``{username}@corp.example`` over LDAPS with the DC's own CA and host name, sAMAccountName as the username,
displayName and department read; the directory sync reads the whole domain from its root with pages of 2
entries and asks the server for each group's members, nested groups included (in-chain rule).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import ldap3
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from intrablog.config import LdapConfig
from intrablog.directory.ldap import LdapDirectory
from intrablog.domain.directory import SyncReport
from intrablog.domain.model import DirectoryPerson
from intrablog.errors import Unavailable
from intrablog.runtime import build_app
from intrablog.storage.models import UserRow
from tests.support.app_fixtures import Api, make_settings
from tests.support.im_world import World, open_world
from tests.support.samba import CERTIFICATE_NAME, PEOPLE, SambaDc, group_dn

# ldap3 2.9.1 checks certificate names with the deprecated ssl.match_hostname, as in test_directory_tls.py.
pytestmark = pytest.mark.filterwarnings(r"ignore:ssl\.match_hostname\(\) is deprecated:DeprecationWarning")

# Everyone the example's people_filter lists in the domain: the four staff, the sync's own service account and
# the two enabled accounts provisioning creates. Not Guest or krbtgt (disabled), nor DC1$ (a computer).
DOMAIN_PEOPLE = ["administrator", "alice", "bob", "carol", "dave", "dns-dc1", "intrablog-sync"]
DISABLED = "514"  # NORMAL_ACCOUNT + ACCOUNTDISABLE
ENABLED = "512"


def person(username: str) -> DirectoryPerson:
    """What the DC holds for one of the seeded people (tests/support/samba.py)."""
    entry = PEOPLE[username]
    return DirectoryPerson(username, entry.display_name, entry.address, entry.address, entry.department)


def _problem(body: dict[str, Any]) -> dict[str, Any]:
    """A problem+json answer without its request id, which differs per request."""
    return {key: value for key, value in body.items() if key != "request_id"}


async def simple_binds_since(dc: SambaDc, before: int, at_least: int) -> int:
    """Binds the DC logged since ``before``, once at least ``at_least`` have been (its workers log as they go)."""
    for _ in range(150):
        if dc.simple_binds() - before >= at_least:
            break
        await asyncio.sleep(0.02)
    return dc.simple_binds() - before


# -- sign-in: a direct bind as user@domain, then the person's own entry --------------------------------------


@pytest.mark.parametrize("username", sorted(PEOPLE))
async def test_each_person_signs_in_and_gets_their_ad_display_name_and_department(
    ad_config: LdapConfig, username: str
) -> None:
    assert await LdapDirectory(ad_config).authenticate(username, f"{username}-pass") == person(username)


async def test_wrong_password_and_unknown_user_get_the_same_refusal(ad_config: LdapConfig) -> None:
    directory = LdapDirectory(ad_config)
    # AD answers all of these with 49 "data 52e"; the adapter must say None, never "unavailable".
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert await directory.authenticate("alice", "bob-pass") is None
    assert await directory.authenticate("zoe", "zoe-pass") is None
    # Names that are not a sAMAccountName: a UPN typed whole, a DN.
    assert await directory.authenticate("alice@corp.example", "alice-pass") is None
    assert await directory.authenticate(PEOPLE["alice"].dn, "alice-pass") is None


async def test_usernames_are_the_sam_account_name_lower_cased(ad_config: LdapConfig) -> None:
    assert await LdapDirectory(ad_config).authenticate("BOB", "bob-pass") == person("bob")


async def test_blank_passwords_are_refused_before_any_bind_reaches_the_dc(
    ad_config: LdapConfig, samba_dc: SambaDc
) -> None:
    # Samba answers an empty password with 49, but Windows AD takes it as an anonymous bind that succeeds: the
    # product must never send one. The DC logs every simple bind it gets, empty passwords included.
    directory = LdapDirectory(ad_config)
    before = samba_dc.simple_binds()
    for blank in ("", " ", "\t\n ", "\u3000"):
        assert await directory.authenticate("alice", blank) is None, repr(blank)
    # Control: a wrong password does reach the DC, and it is the only bind logged since.
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert await simple_binds_since(samba_dc, before, at_least=1) == 1


@pytest.mark.parametrize("name", [CERTIFICATE_NAME, CERTIFICATE_NAME.lower()])
async def test_the_dc_certificate_is_trusted_under_its_host_name(ad_config: LdapConfig, name: str) -> None:
    # The DC is reached by IP address; its certificate names only DC1.corp.example (the example says dc1...).
    config = ad_config.model_copy(update={"tls_valid_names": [name]})
    assert await LdapDirectory(config).authenticate("carol", "carol-pass") == person("carol")


async def test_without_tls_valid_names_the_dc_is_unavailable_and_no_password_is_sent(
    ad_config: LdapConfig, samba_dc: SambaDc
) -> None:
    directory = LdapDirectory(ad_config.model_copy(update={"tls_valid_names": []}))
    before = samba_dc.simple_binds()
    with pytest.raises(Unavailable):
        await directory.authenticate("carol", "carol-pass")
    assert await LdapDirectory(ad_config).authenticate("carol", "wrong-pass") is None  # control
    assert await simple_binds_since(samba_dc, before, at_least=1) == 1


async def test_api_sign_in_against_ad(sqlite_url: str, ad_config: LdapConfig, samba_dc: SambaDc) -> None:
    async with TestClient(TestServer(build_app(make_settings(sqlite_url, ad_config)))) as client:
        response = await client.post("/api/v1/login", json={"username": "bob", "password": "bob-pass"})
        assert response.status == 200, await response.text()
        user = (await response.json())["user"]
        assert (user["username"], user["display_name"], user["email"]) == ("bob", "Bob Baker", "bob@corp.example")

        before = samba_dc.simple_binds()
        blank = await client.post("/api/v1/login", json={"username": "bob", "password": " "})
        wrong = await client.post("/api/v1/login", json={"username": "bob", "password": "nope"})
        unknown = await client.post("/api/v1/login", json={"username": "zoe", "password": "nope"})
        assert blank.status == wrong.status == unknown.status == 401
        assert _problem(await wrong.json(content_type=None)) == _problem(await unknown.json(content_type=None))
        assert await simple_binds_since(samba_dc, before, at_least=2) == 2  # bob's and zoe's, not the blank one


# -- the directory sync ------------------------------------------------------------------------------------------


@pytest.fixture
async def ad_world(database_url: str, ad_config: LdapConfig) -> AsyncIterator[tuple[Api, World]]:
    """The demo channels (engineering bound to the group engineering) over the DC, and the API beside them."""
    async with (
        open_world(database_url, ad_config) as world,
        TestClient(TestServer(build_app(make_settings(database_url, ad_config)))) as client,
    ):
        yield Api(client), world


async def _sync(world: World) -> SyncReport:
    report = await world.services.directory_sync.run()
    assert report.ok, report.error
    return report


async def _group_members(world: World, name: str) -> list[str]:
    async with world.runtime.database.unit_of_work() as uow:
        return await uow.directory_sync.group_members(group_dn(name))


async def _active_usernames(world: World) -> list[str]:
    async with world.runtime.database.unit_of_work() as uow:
        rows = await uow.session.execute(select(UserRow.username).where(UserRow.active).order_by(UserRow.username))
        return list(rows.scalars())


async def _channel_members(api: Api, channel: str) -> dict[str, tuple[str, str]]:
    members = await api.json("GET", f"/api/v1/channels/{channel}/members", "alice")
    return {member["username"]: (member["role"], member["source"]) for member in members}


@contextmanager
def out_of_group(dc: SambaDc, group: str, member_dn: str) -> Iterator[None]:
    """The member taken out of the group by Administrator over LDAP, and put back at the end (a shared DC)."""
    dc.modify(group_dn(group), {"member": [(ldap3.MODIFY_DELETE, [member_dn])]})
    try:
        yield
    finally:
        dc.modify(group_dn(group), {"member": [(ldap3.MODIFY_ADD, [member_dn])]})


async def test_a_paged_sync_from_the_domain_root_mirrors_people_and_nested_groups(ad_world: tuple[Api, World]) -> None:
    api, world = ad_world

    report = await _sync(world)

    # Pages of 2: all seven people came only if every page was followed (and the root's continuation references
    # to the Configuration partition did not end the listing).
    assert (report.people, report.created, report.deactivated) == (7, 7, 0)
    assert await _active_usernames(world) == DOMAIN_PEOPLE
    assert await _group_members(world, "platform") == ["bob"]
    assert await _group_members(world, "engineering") == ["alice", "bob"]  # bob through platform
    assert await _group_members(world, "staff") == ["alice", "bob", "carol"]  # two levels down for bob
    assert await _group_members(world, "contractors") == []
    async with world.runtime.database.unit_of_work() as uow:
        alice = await uow.users.by_username("alice")
    assert alice is not None
    assert (alice.display_name, alice.email, alice.department) == ("Alice Archer", "alice@corp.example", "Engineering")
    # The channel bound to the group engineering: bob is in it through the nested group.
    await api.login("alice")
    assert await _channel_members(api, "engineering") == {"alice": ("member", "group"), "bob": ("member", "group")}

    again = await _sync(world)
    assert (again.created, again.updated, again.deactivated, again.channel_memberships_changed) == (0, 0, 0, 0)


async def test_leaving_the_nested_group_ends_channel_membership_and_rejoining_restores_it(
    ad_world: tuple[Api, World], samba_dc: SambaDc
) -> None:
    api, world = ad_world
    await _sync(world)
    await api.login("alice")

    with out_of_group(samba_dc, "platform", PEOPLE["bob"].dn):
        assert (await _sync(world)).channel_memberships_changed == 1
        assert await _group_members(world, "engineering") == ["alice"]
        assert await _group_members(world, "staff") == ["alice", "carol"]
        assert await _channel_members(api, "engineering") == {"alice": ("member", "group")}
        assert "bob" in await _active_usernames(world)  # out of a group, still on the staff

    assert (await _sync(world)).channel_memberships_changed == 1
    assert await _group_members(world, "engineering") == ["alice", "bob"]
    assert await _channel_members(api, "engineering") == {"alice": ("member", "group"), "bob": ("member", "group")}


async def test_a_disabled_account_is_refused_at_sign_in_and_deactivated_by_the_sync(
    ad_world: tuple[Api, World], samba_dc: SambaDc
) -> None:
    api, world = ad_world
    await _sync(world)
    await api.login("dave")

    samba_dc.modify(PEOPLE["dave"].dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [DISABLED])]})
    try:
        # AD refuses the bind (49, "data 533"): the same answer as a wrong password.
        refused = await api.client.post("/api/v1/login", json={"username": "dave", "password": "dave-pass"})
        assert refused.status == 401
        report = await _sync(world)
        assert (report.deactivated, report.sessions_revoked) == (1, 1)
        assert "dave" not in await _active_usernames(world)
        assert (await api.call("GET", "/api/v1/me", "dave")).status == 401
    finally:
        samba_dc.modify(PEOPLE["dave"].dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [ENABLED])]})

    assert (await _sync(world)).reactivated == 1
    assert "dave" in await _active_usernames(world)
    await api.login("dave")
    assert (await api.json("GET", "/api/v1/me", "dave"))["username"] == "dave"


async def test_a_sync_without_a_service_account_fails_saying_so_and_changes_nothing(
    sqlite_url: str, ad_config: LdapConfig
) -> None:
    # Sign-in needs no service account in direct mode; the sync does: AD refuses anonymous searches.
    anonymous = ad_config.model_copy(update={"bind_dn": None, "bind_password": None})
    async with open_world(sqlite_url, anonymous) as world:
        report = await world.services.directory_sync.run()

        assert not report.ok
        assert report.error is not None
        assert "anonymous search" in report.error
        assert "ldap.bind_dn" in report.error
        assert await _active_usernames(world) == []
