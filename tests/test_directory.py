"""The LDAP directory adapter against a real slapd holding the demo directory (deploy/dev/directory.ldif)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable
from pathlib import Path

import ldap3
import pytest
from pydantic import SecretStr

from intrablog.config import LdapAttributes, LdapConfig
from intrablog.devstack.slapd import Slapd, SlapdError, free_port
from intrablog.directory.ldap import MAX_CALL_SECONDS, LdapDirectory
from intrablog.domain.model import DirectoryPerson
from intrablog.errors import Unavailable
from tests.support.slapd_fixtures import ldap_config_for

ALICE = DirectoryPerson("alice", "Alice Archer", "alice@example.com", "alice@example.com", "Engineering")
DEMO_PEOPLE = {
    "alice": ALICE,
    "bob": DirectoryPerson("bob", "Bob Baker", "bob@example.com", "bob@example.com", "Engineering"),
    "carol": DirectoryPerson("carol", "Carol Carter", "carol@example.com", "carol@example.com", "HR"),
    "dave": DirectoryPerson("dave", "Dave Dawson", "dave@example.com", "dave@example.com", "Sales"),
}
DIRECT_TEMPLATE = "uid={username},ou=people,dc=example,dc=com"
# The port promises Unavailable within 5 s, whatever the configured timeouts.
PROMISED_SECONDS = 5.0


async def unavailable_within(call: Awaitable[object], seconds: float = PROMISED_SECONDS) -> float:
    """Seconds until ``call`` raised Unavailable; fails if it answered or took longer than ``seconds``."""
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        await asyncio.wait_for(call, seconds)
    assert raised.value.detail == "directory unavailable"
    return time.monotonic() - started


# -- who the directory lets in ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", sorted(DEMO_PEOPLE))
async def test_each_demo_user_signs_in_with_their_password(ldap_config: LdapConfig, username: str) -> None:
    person = await LdapDirectory(ldap_config).authenticate(username, f"{username}-pass")
    assert person == DEMO_PEOPLE[username]


async def test_alice_gets_her_name_mail_and_xmpp_address(ldap_config: LdapConfig) -> None:
    person = await LdapDirectory(ldap_config).authenticate("alice", "alice-pass")
    assert person is not None
    assert person.display_name == "Alice Archer"
    assert person.email == "alice@example.com"
    assert person.xmpp_address == "alice@example.com"


async def test_wrong_password_and_unknown_user_get_the_same_answer(ldap_config: LdapConfig) -> None:
    directory = LdapDirectory(ldap_config)
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert await directory.authenticate("alice", "bob-pass") is None
    assert await directory.authenticate("zoe", "zoe-pass") is None
    assert await directory.authenticate("zoe", "alice-pass") is None


async def test_password_must_match_exactly(ldap_config: LdapConfig) -> None:
    directory = LdapDirectory(ldap_config)
    for near_miss in ("Alice-pass", "alice-pass ", " alice-pass", "alice-pas", "alice-pass\u00ad", "alice-pass\x00"):
        assert await directory.authenticate("alice", near_miss) is None, repr(near_miss)


async def test_username_is_the_directory_spelling_lower_cased(ldap_config: LdapConfig) -> None:
    # slapd matches uid case-insensitively and ignores outer spaces; the person is still "alice".
    directory = LdapDirectory(ldap_config)
    for typed in ("ALICE", "Alice", "  alice ", "\uff41\uff4c\uff49\uff43\uff45"):
        assert await directory.authenticate(typed, "alice-pass") == ALICE, repr(typed)


async def test_direct_bind_mode(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(update={"mode": "direct", "bind_template": DIRECT_TEMPLATE})
    directory = LdapDirectory(config)
    assert await directory.authenticate("alice", "alice-pass") == ALICE
    assert await directory.authenticate("carol", "carol-pass") == DEMO_PEOPLE["carol"]
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert await directory.authenticate("zoe", "zoe-pass") is None
    # A name that would add RDNs if it were not escaped.
    assert await directory.authenticate("alice,ou=people", "alice-pass") is None
    assert await directory.authenticate("bob+cn=Bob Baker", "bob-pass") is None


async def test_direct_bind_mode_without_service_account(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(
        update={"mode": "direct", "bind_template": DIRECT_TEMPLATE, "bind_dn": None, "bind_password": None}
    )
    assert await LdapDirectory(config).authenticate("dave", "dave-pass") == DEMO_PEOPLE["dave"]


async def test_search_mode_with_anonymous_search(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(update={"bind_dn": None, "bind_password": None})
    directory = LdapDirectory(config)
    assert await directory.authenticate("bob", "bob-pass") == DEMO_PEOPLE["bob"]
    assert await directory.authenticate("bob", "alice-pass") is None


async def test_attributes_follow_the_configuration(ldap_config: LdapConfig) -> None:
    attributes = LdapAttributes(display_name="givenName", mail="departmentNumber", xmpp="mail", department="sn")
    config = ldap_config.model_copy(update={"attributes": attributes, "xmpp_template": "unused-{username}"})
    person = await LdapDirectory(config).authenticate("carol", "carol-pass")
    assert person == DirectoryPerson("carol", "Carol", "HR", "carol@example.com", department="Carter")


async def test_xmpp_template_builds_the_address(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(update={"xmpp_template": "{username}@chat.example.com"})
    person = await LdapDirectory(config).authenticate("bob", "bob-pass")
    assert person is not None
    assert person.xmpp_address == "bob@chat.example.com"


async def test_missing_attributes_fall_back(ldap_config: LdapConfig) -> None:
    attributes = LdapAttributes(display_name="title", mail="telephoneNumber", xmpp="labeledURI", department="ou")
    config = ldap_config.model_copy(update={"attributes": attributes})
    person = await LdapDirectory(config).authenticate("dave", "dave-pass")
    assert person == DirectoryPerson("dave", "dave", None, None, department=None)


async def test_a_filter_matching_several_entries_lets_nobody_in(ldap_config: LdapConfig) -> None:
    # Both engineers match for either name: the adapter cannot tell whose password this is.
    ambiguous = "(&(objectClass=inetOrgPerson)(|(uid={username})(departmentNumber=Engineering)))"
    directory = LdapDirectory(ldap_config.model_copy(update={"user_filter": ambiguous}))
    assert await directory.authenticate("bob", "bob-pass") is None
    assert await directory.authenticate("carol", "carol-pass") is None  # carol, bob and alice match


# -- nothing is sent for what can never be a sign-in ----------------------------------------------------------

REFUSED_BEFORE_ANY_BIND = [
    ("alice", ""),
    ("alice", " "),
    ("alice", "\t\n \u3000"),
    ("", "alice-pass"),
    (" ", "alice-pass"),
    ("\t\n", "alice-pass"),
    ("", ""),
    ("alice\x00", "alice-pass"),
    ("\ud800", "alice-pass"),
    ("a" * 10_000, "alice-pass"),
    ("alice", "alice-pass\udfff"),
]


@pytest.mark.parametrize(("username", "password"), REFUSED_BEFORE_ANY_BIND)
async def test_refused_without_any_bind(ldap_config: LdapConfig, slapd: Slapd, username: str, password: str) -> None:
    directory = LdapDirectory(ldap_config)
    before = slapd.bind_count()
    assert await directory.authenticate(username, password) is None
    assert slapd.bind_count() == before


async def test_bind_counter_control_a_wrong_password_is_sent(ldap_config: LdapConfig, slapd: Slapd) -> None:
    # Without this, an unchanged counter above could mean the counter is not counting.
    directory = LdapDirectory(ldap_config)
    before = slapd.bind_count()
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert slapd.bind_count() == before + 2  # the service account, then alice
    assert await directory.authenticate("zoe", "zoe-pass") is None
    assert slapd.bind_count() == before + 3  # the service account only: nobody to bind as


async def test_direct_mode_refuses_blank_credentials_without_a_bind(ldap_config: LdapConfig, slapd: Slapd) -> None:
    directory = LdapDirectory(ldap_config.model_copy(update={"mode": "direct", "bind_template": DIRECT_TEMPLATE}))
    before = slapd.bind_count()
    assert await directory.authenticate("alice", " ") is None
    assert await directory.authenticate(" ", "alice-pass") is None
    assert slapd.bind_count() == before
    assert await directory.authenticate("alice", "wrong-pass") is None
    assert slapd.bind_count() == before + 1


# -- ping -----------------------------------------------------------------------------------------------------


async def test_ping_answers_when_the_directory_does(ldap_config: LdapConfig) -> None:
    await LdapDirectory(ldap_config).ping()
    await LdapDirectory(ldap_config.model_copy(update={"bind_dn": None, "bind_password": None})).ping()


async def test_ping_with_a_refused_service_account_is_unavailable(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(update={"bind_password": SecretStr("not-the-secret")})
    await unavailable_within(LdapDirectory(config).ping())
    # Nobody can be looked up either: an answer of "wrong password" would blame the user.
    await unavailable_within(LdapDirectory(config).authenticate("alice", "alice-pass"))


async def test_a_missing_user_base_is_unavailable_not_unknown_user(ldap_config: LdapConfig) -> None:
    config = ldap_config.model_copy(update={"user_base": "ou=nowhere,dc=example,dc=com"})
    await unavailable_within(LdapDirectory(config).authenticate("alice", "alice-pass"))


# -- outages --------------------------------------------------------------------------------------------------


async def test_stopped_directory_is_unavailable_then_works_again(private_slapd: Slapd) -> None:
    directory = LdapDirectory(ldap_config_for(private_slapd))
    assert await directory.authenticate("alice", "alice-pass") == ALICE
    private_slapd.stop()
    assert await unavailable_within(directory.authenticate("alice", "alice-pass")) < PROMISED_SECONDS
    await unavailable_within(directory.authenticate("alice", "wrong-pass"))
    await unavailable_within(directory.ping())
    private_slapd.start()  # same folder: the entries are still there
    assert await directory.authenticate("alice", "alice-pass") == ALICE
    assert await directory.authenticate("alice", "wrong-pass") is None
    await directory.ping()


async def test_hung_directory_is_unavailable_then_works_again(private_slapd: Slapd) -> None:
    directory = LdapDirectory(ldap_config_for(private_slapd, receive_timeout=1.0))
    private_slapd.pause()
    try:
        await unavailable_within(directory.authenticate("bob", "bob-pass"))
        await unavailable_within(directory.ping())
    finally:
        private_slapd.resume()
    assert await directory.authenticate("bob", "bob-pass") == DEMO_PEOPLE["bob"]
    await directory.ping()


async def test_hung_directory_with_long_timeouts_still_answers_within_the_promise(private_slapd: Slapd) -> None:
    # The configured timeouts allow 30 s; the port promises 5 s, so the adapter's own bound must win.
    directory = LdapDirectory(ldap_config_for(private_slapd, connect_timeout=30, receive_timeout=30))
    private_slapd.pause()
    try:
        elapsed = await unavailable_within(directory.authenticate("alice", "alice-pass"))
    finally:
        private_slapd.resume()
    assert elapsed < MAX_CALL_SECONDS + 0.5
    assert await directory.authenticate("alice", "alice-pass") == ALICE


async def test_nothing_listening_is_unavailable(slapd: Slapd) -> None:
    config = ldap_config_for(slapd, url="ldap://127.0.0.1:1")
    await unavailable_within(LdapDirectory(config).authenticate("alice", "alice-pass"))
    await unavailable_within(LdapDirectory(config).ping())


async def test_many_sign_ins_at_once(ldap_config: LdapConfig) -> None:
    directory = LdapDirectory(ldap_config)
    names = sorted(DEMO_PEOPLE) * 5
    people = await asyncio.gather(*(directory.authenticate(name, f"{name}-pass") for name in names))
    assert people == [DEMO_PEOPLE[name] for name in names]


# -- the demo directory and the slapd helper itself -----------------------------------------------------------


def _member_of(server: Slapd, username: str) -> set[str]:
    connection = ldap3.Connection(server.url, user=server.admin_dn, password=server.admin_password, auto_bind=True)
    try:
        connection.search("ou=people,dc=example,dc=com", f"(uid={username})", attributes=["memberOf"])
        return {str(dn) for dn in connection.entries[0]["memberOf"].values}
    finally:
        connection.unbind()


def test_demo_directory_groups_are_maintained_by_the_overlay(slapd: Slapd) -> None:
    def groups(*names: str) -> set[str]:
        return {f"cn={name},ou=groups,dc=example,dc=com" for name in names}

    assert _member_of(slapd, "alice") == groups("engineering", "executives", "admins")
    assert _member_of(slapd, "bob") == groups("engineering")
    assert _member_of(slapd, "carol") == groups("hr")
    assert _member_of(slapd, "dave") == set()


async def test_directory_changes_show_at_the_next_sign_in(private_slapd: Slapd) -> None:
    # A connection per call: nothing is cached between sign-ins.
    directory = LdapDirectory(ldap_config_for(private_slapd))
    private_slapd.modify_ldif(
        "dn: uid=carol,ou=people,dc=example,dc=com\n"
        "changetype: modify\n"
        "replace: cn\ncn: Carol Chen\n-\n"
        "replace: userPassword\nuserPassword: carol-new-pass\n"
    )
    assert await directory.authenticate("carol", "carol-pass") is None
    assert await directory.authenticate("carol", "carol-new-pass") == DirectoryPerson(
        "carol", "Carol Chen", "carol@example.com", "carol@example.com", "HR"
    )


def test_slapd_as_a_context_manager(tmp_path: Path) -> None:
    with Slapd(tmp_path, free_port()) as server:
        assert server.running
        server.load_ldif("dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: X\n")
    assert not server.running
    server.stop()  # stopping twice is harmless


def test_slapd_that_cannot_start_says_why(tmp_path: Path) -> None:
    server = Slapd(tmp_path, free_port(), extra_config="no-such-directive yes")
    with pytest.raises(SlapdError, match="no-such-directive"):
        server.start()
    assert not server.running


def test_slapd_refuses_a_port_another_program_holds(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        server = Slapd(tmp_path, other.getsockname()[1])
        with pytest.raises(SlapdError, match="Address already in use"):
            server.start()
    assert not server.running
