"""The directory sync against a real slapd, on SQLite and PostgreSQL (issue 6, acceptance 4 and 5).

A sync mirrors one complete listing or changes nothing: a directory that is down, hung or that answers only
part of the listing (size limit) deactivates nobody, and the next sync after it is back does the work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd, free_port
from intrablog.domain.events import DirectorySynced
from intrablog.storage.models import GroupMembershipRow, SyncRunRow
from tests.support.directory_data import (
    SIZE_LIMITED,
    active_usernames,
    delete_person,
    expected_members,
    generated_ldif,
)
from tests.support.im_world import World, open_world
from tests.support.slapd_fixtures import ADMIN_PASSWORD, DEV_DIRECTORY_LDIF, ldap_config_for

ENGINEERING = "cn=engineering,ou=groups,dc=example,dc=com"


@pytest.fixture
async def world(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, private_ldap_config) as built:
        yield built


async def _runs(world: World) -> list[tuple[bool, str | None]]:
    async with world.runtime.database.unit_of_work() as uow:
        rows = await uow.session.execute(select(SyncRunRow.ok, SyncRunRow.error).order_by(SyncRunRow.id))
        return [(bool(row.ok), row.error) for row in rows]


async def test_a_sync_mirrors_people_and_groups_and_a_second_one_changes_nothing(world: World) -> None:
    subscription = world.runtime.events.subscribe()

    report = await world.services.directory_sync.run()

    assert report.ok, report.error
    assert (report.created, report.updated, report.deactivated, report.reactivated) == (4, 0, 0, 0)
    assert (report.people, report.groups, report.memberships) == (4, 4, 5)
    assert await active_usernames(world.services) == ["alice", "bob", "carol", "dave"]
    async with world.runtime.database.unit_of_work() as uow:
        assert await uow.directory_sync.group_members(ENGINEERING) == ["alice", "bob"]
        assert await uow.directory_sync.group_members(ENGINEERING.upper()) == ["alice", "bob"]
        alice = await uow.users.by_username("alice")
    assert alice is not None
    assert alice.display_name == "Alice Archer"
    assert alice.is_site_admin
    assert await asyncio.wait_for(subscription.get(), 1) == DirectorySynced(report)

    again = await world.services.directory_sync.run()
    assert (again.ok, again.created, again.updated, again.deactivated, again.reactivated) == (True, 0, 0, 0, 0)
    assert await _runs(world) == [(True, None), (True, None)]


@pytest.mark.parametrize("failure", ["stopped", "hung"])
async def test_an_unreachable_directory_deactivates_nobody_and_the_next_sync_does(
    world: World, private_slapd: Slapd, failure: str
) -> None:
    assert (await world.services.directory_sync.run()).ok
    token = (await world.services.accounts.sign_in("dave", "dave-pass")).token
    # dave leaves while the directory is then unreachable: nothing may be concluded from silence.
    delete_person(private_slapd, "dave")
    if failure == "stopped":
        private_slapd.stop()
    else:
        private_slapd.pause()
    try:
        report = await world.services.directory_sync.run()
    finally:
        if failure == "stopped":
            private_slapd.start()
        else:
            private_slapd.resume()

    assert not report.ok
    assert report.error is not None
    assert "directory unavailable" in report.error
    assert (report.created, report.deactivated) == (0, 0)
    assert await active_usernames(world.services) == ["alice", "bob", "carol", "dave"]
    assert (await world.services.accounts.authenticate(token)).username == "dave"

    # Back: the next sync sees dave gone, deactivates him and revokes his session.
    report = await world.services.directory_sync.run()
    assert (report.ok, report.deactivated, report.sessions_revoked) == (True, 1, 1)
    assert await active_usernames(world.services) == ["alice", "bob", "carol"]
    assert [ok for ok, _ in await _runs(world)] == [True, False, True]


@pytest.fixture
def size_limited_slapd(tmp_path: Path) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "limited", free_port(), admin_password=ADMIN_PASSWORD, database_config=SIZE_LIMITED)
    server.start()
    try:
        server.load_ldif(DEV_DIRECTORY_LDIF)
        server.load_ldif(generated_ldif(people=600, groups=4))
        yield server
    finally:
        server.stop()


async def test_a_size_limit_fails_the_sync_without_paging_and_paging_completes_it(
    database_url: str, size_limited_slapd: Slapd
) -> None:
    # Anonymous: slapd's rootdn is above every limit, an ordinary reader is not.
    config = ldap_config_for(size_limited_slapd, bind_dn=None, bind_password=None)
    async with open_world(database_url, config) as world:
        first = await world.services.directory_sync.run()
        assert (first.ok, first.people) == (True, 604), first.error
        delete_person(size_limited_slapd, "dave")

        unpaged = await world.services.directory_sync.run(page_size=0)

        assert not unpaged.ok
        assert unpaged.error is not None
        assert "size limit exceeded" in unpaged.error
        assert await active_usernames(world.services) == ["alice", "bob", "carol", "dave"]

        paged = await world.services.directory_sync.run()
        assert (paged.ok, paged.people, paged.deactivated) == (True, 603, 1)
        assert await active_usernames(world.services) == ["alice", "bob", "carol"]


async def test_five_thousand_people_and_two_hundred_groups_sync_completely_through_pages(
    database_url: str, tmp_path: Path
) -> None:
    server = Slapd(tmp_path / "big", free_port(), admin_password=ADMIN_PASSWORD, database_config=SIZE_LIMITED)
    server.start()
    try:
        started = time.monotonic()
        server.load_ldif(DEV_DIRECTORY_LDIF)
        server.load_ldif(generated_ldif(people=5000, groups=200))
        assert time.monotonic() - started < 30
        config = ldap_config_for(server, bind_dn=None, bind_password=None, page_size=500)
        async with open_world(database_url, config) as world:
            report = await world.services.directory_sync.run()

            assert report.ok, report.error
            assert (report.people, report.created, report.groups) == (5004, 5004, 204)
            assert report.memberships == 200 * 25 + 5
            async with world.runtime.database.unit_of_work() as uow:
                stored = (await uow.session.execute(select(func.count()).select_from(GroupMembershipRow))).scalar()
                of_names = await uow.directory_sync.group_members("cn=team000,ou=teams,dc=example,dc=com")
                of_posix = await uow.directory_sync.group_members("cn=team199,ou=teams,dc=example,dc=com")
            assert stored == report.memberships
            assert of_names == expected_members(0, 5000)
            assert of_posix == expected_members(199, 5000)

            # A group emptied in the directory is emptied here at the next sync.
            server.modify_ldif("dn: cn=team199,ou=teams,dc=example,dc=com\nchangetype: modify\ndelete: memberUid\n")
            again = await world.services.directory_sync.run()
            assert (again.ok, again.created, again.updated, again.memberships) == (True, 0, 0, 199 * 25 + 5)
            async with world.runtime.database.unit_of_work() as uow:
                assert await uow.directory_sync.group_members("cn=team199,ou=teams,dc=example,dc=com") == []
    finally:
        server.stop()


async def test_unique_member_groups_and_groups_inside_groups_are_resolved(world: World, private_slapd: Slapd) -> None:
    private_slapd.load_ldif(
        "dn: cn=leads,ou=groups,dc=example,dc=com\nobjectClass: groupOfUniqueNames\ncn: leads\n"
        "uniqueMember: uid=carol,ou=people,dc=example,dc=com\n\n"
        "dn: cn=everyone,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: everyone\n"
        f"member: {ENGINEERING}\nmember: cn=leads,ou=groups,dc=example,dc=com\n"
        # A cycle must not loop forever.
        "member: cn=everyone,ou=groups,dc=example,dc=com\n"
    )

    report = await world.services.directory_sync.run()

    assert report.ok, report.error
    async with world.runtime.database.unit_of_work() as uow:
        assert await uow.directory_sync.group_members("cn=leads,ou=groups,dc=example,dc=com") == ["carol"]
        everyone = await uow.directory_sync.group_members("cn=everyone,ou=groups,dc=example,dc=com")
    assert everyone == ["alice", "bob", "carol"]


async def test_a_referral_in_the_listing_fails_the_sync_and_changes_nothing(world: World, private_slapd: Slapd) -> None:
    assert (await world.services.directory_sync.run()).ok
    delete_person(private_slapd, "dave")
    # Part of the tree lives on another server: what it holds is unknown, so nobody may be deactivated.
    private_slapd.load_ldif(
        "dn: ou=elsewhere,dc=example,dc=com\nobjectClass: referral\nobjectClass: extensibleObject\n"
        "ou: elsewhere\nref: ldap://ldap.elsewhere.example/ou=people,dc=elsewhere,dc=example\n"
    )

    report = await world.services.directory_sync.run()

    assert not report.ok
    assert report.error is not None
    assert "referred elsewhere" in report.error
    assert await active_usernames(world.services) == ["alice", "bob", "carol", "dave"]
