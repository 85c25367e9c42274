"""A person's department comes from the directory (``ldap.attributes.department``) at sign-in and at every
sync, on SQLite and PostgreSQL, against a real slapd whose entries the test changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from intrablog.config import LdapAttributes, LdapConfig
from intrablog.devstack.slapd import Slapd
from tests.support.im_world import World, open_world

BASE = "dc=example,dc=com"


@pytest.fixture
async def world(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, private_ldap_config) as built:
        yield built


async def _departments(world: World) -> dict[str, str | None]:
    async with world.runtime.database.unit_of_work() as uow:
        users = await uow.users.by_usernames(["alice", "bob", "carol", "dave"])
    return {user.username: user.department for user in users}


def _set_department(slapd: Slapd, username: str, change: str) -> None:
    slapd.modify_ldif(f"dn: uid={username},ou=people,{BASE}\nchangetype: modify\n{change}")


async def test_the_sync_stores_and_refreshes_departments(world: World, private_slapd: Slapd) -> None:
    report = await world.services.directory_sync.run()
    assert report.ok, report.error
    assert await _departments(world) == {"alice": "Engineering", "bob": "Engineering", "carol": "HR", "dave": "Sales"}

    _set_department(private_slapd, "dave", "replace: departmentNumber\ndepartmentNumber: Marketing\n")
    _set_department(private_slapd, "bob", "delete: departmentNumber\n")
    report = await world.services.directory_sync.run()
    assert report.ok, report.error
    assert report.updated == 2, "a new department is an update of the person"
    assert await _departments(world) == {"alice": "Engineering", "bob": None, "carol": "HR", "dave": "Marketing"}


async def test_sign_in_stores_the_department_of_that_moment(world: World, private_slapd: Slapd) -> None:
    carol = await world.sign_in("carol")
    assert carol.department == "HR"
    _set_department(private_slapd, "carol", "replace: departmentNumber\ndepartmentNumber: People\n")
    assert (await world.sign_in("carol")).department == "People"
    # And the session's user (what every request sees) carries it too.
    signed_in = await world.services.accounts.sign_in("carol", "carol-pass")
    assert (await world.services.accounts.authenticate(signed_in.token)).department == "People"


async def test_the_department_attribute_is_configurable(database_url: str, private_ldap_config: LdapConfig) -> None:
    # Any attribute will do: here the surname stands in, and a blank one means no department.
    attributes = LdapAttributes(department="sn")
    config = private_ldap_config.model_copy(update={"attributes": attributes})
    async with open_world(database_url, config) as world:
        assert (await world.sign_in("bob")).department == "Baker"
        report = await world.services.directory_sync.run()
        assert report.ok, report.error
        assert (await _departments(world))["dave"] == "Dawson"
    unset = private_ldap_config.model_copy(update={"attributes": LdapAttributes(department="")})
    async with open_world(database_url, unset) as world:
        assert (await world.sign_in("bob")).department is None
