"""Hostile sign-in names against the real slapd: filter and DN injection, control and unpaired characters.

Whatever the input, the answer is None, or the person whose own name and password were given - never
somebody else, never an exception.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.directory.ldap import MAX_PASSWORD_BYTES, LdapDirectory
from intrablog.domain.model import DirectoryPerson
from tests.support.slapd_fixtures import ldap_config_for

PEOPLE = {
    "alice": DirectoryPerson("alice", "Alice Archer", "alice@example.com", "alice@example.com", "Engineering"),
    "bob": DirectoryPerson("bob", "Bob Baker", "bob@example.com", "bob@example.com", "Engineering"),
    "carol": DirectoryPerson("carol", "Carol Carter", "carol@example.com", "carol@example.com", "HR"),
    "dave": DirectoryPerson("dave", "Dave Dawson", "dave@example.com", "dave@example.com", "Sales"),
}
PASSWORDS = [f"{name}-pass" for name in PEOPLE]
FILTER_METACHARACTERS = "*()\\\x00"
DIRECT_TEMPLATE = "uid={username},ou=people,dc=example,dc=com"
HOSTILE_PASSWORDS = [
    "*",
    "\x00",
    "alice-pass\x00",
    "\udcff",
    "\u00ad",
    "\u200b",
    "\U0001f600",
    "x" * MAX_PASSWORD_BYTES,
]

HOSTILE_USERNAMES = [
    "*",
    "**",
    "a*",
    "alice*",
    "*alice",
    "al*ce",
    ")(uid=*",
    "alice)(|(uid=*",
    "*)(uid=alice",
    "alice)(uid=bob",
    "alice))(|(objectClass=*",
    "(uid=alice)",
    "\\2a",
    "alice\\00",
    "alice\\",
    "\\",
    "\x00",
    "alice\x00",
    "\x00alice",
    "a" * 10_000,
    "alice" + " " * 300,
    "\ud800",
    "alice\udc00",
    "\udfffalice",
    "\U0001f600",
    "alice\U0001f600",
    "alice\u200b",
    "ali\u00adce",
    "alice\u202e",
    "uid=alice",
    "uid=alice,ou=people,dc=example,dc=com",
    "alice,ou=people",
    "alice+cn=Alice Archer",
    "#alice",
    '"alice"',
    "alice;",
    "<alice>",
    "cn=admin,dc=example,dc=com",
    "admin",
]


def _directories(config: LdapConfig) -> list[LdapDirectory]:
    direct = config.model_copy(update={"mode": "direct", "bind_template": DIRECT_TEMPLATE})
    return [LdapDirectory(config), LdapDirectory(direct)]


@pytest.mark.parametrize("username", HOSTILE_USERNAMES)
async def test_hostile_username_never_signs_anyone_in(ldap_config: LdapConfig, username: str) -> None:
    for directory in _directories(ldap_config):
        for password in [*PASSWORDS, "admin-secret", "*", "wrong"]:
            assert await directory.authenticate(username, password) is None, (directory.config.mode, password)


async def test_admin_password_opens_no_door(ldap_config: LdapConfig) -> None:
    # The service account is not a person: its DN and password must not pass as a sign-in.
    for directory in _directories(ldap_config):
        assert await directory.authenticate("cn=admin,dc=example,dc=com", "admin-secret") is None
        assert await directory.authenticate("admin", "admin-secret") is None


async def test_hostile_passwords_are_refused(ldap_config: LdapConfig) -> None:
    for directory in _directories(ldap_config):
        for password in HOSTILE_PASSWORDS:
            assert await directory.authenticate("alice", password) is None, repr(password[:20])


async def test_overlong_passwords_are_refused_without_a_bind(ldap_config: LdapConfig, slapd: Slapd) -> None:
    # In direct mode slapd would cut the connection over a 300 KB bind: that must not read as an outage.
    for directory in _directories(ldap_config):
        before = slapd.bind_count()
        assert await directory.authenticate("alice", "alice-pass" + "x" * MAX_PASSWORD_BYTES) is None
        assert await directory.authenticate("alice", "x" * 300_000) is None
        assert slapd.bind_count() == before


# -- property: against the real slapd, for text built around filter metacharacters and the real names -------

_fragments = st.one_of(
    st.sampled_from(list(PEOPLE)),
    st.sampled_from(list(FILTER_METACHARACTERS)),
    st.sampled_from(["|", "&", "!", "=", "~=", ">=", ",", "+", ";", "#", " ", "uid=", "\\2a", "\\29", "\\5c"]),
    st.sampled_from([")(uid=*", "(|(uid=*", "*)(", "))(|(", "(objectClass=*)", ",ou=people,dc=example,dc=com"]),
    st.text(max_size=3),
    st.characters(codec="utf-8") | st.characters(categories=["Cs"]),
)
_noise = st.lists(_fragments, max_size=6).map("".join)
_around = st.lists(_fragments, max_size=3).map("".join)


@st.composite
def sign_in_attempts(draw: st.DrawFn) -> tuple[str, str]:
    """A name (exact, wrapped in metacharacters, or noise) and a password (usually a real one)."""
    name = draw(st.sampled_from(list(PEOPLE)))
    username = draw(st.one_of(st.just(name), st.builds(lambda a, b: a + name + b, _around, _around), _noise))
    password = draw(
        st.one_of(
            st.just(f"{name}-pass"),
            st.sampled_from(PASSWORDS),
            st.sampled_from(["", " ", "*", "wrong"]) | st.text(max_size=6),
        )
    )
    return username, password


def _check(directory: LdapDirectory, username: str, password: str) -> None:
    # A fresh event loop per example: hypothesis drives the examples synchronously.
    person = asyncio.run(directory.authenticate(username, password))
    # Shown by --hypothesis-show-statistics: proof that the examples reach real sign-ins, not only refusals.
    event("signed in" if person is not None else "refused")
    if any(name in username for name in PEOPLE) and password in PASSWORDS:
        event("a real name and a real password")
    if username in PEOPLE and password == f"{username}-pass":
        assert person == PEOPLE[username]
        return
    if person is None:
        return
    # Only the real name, spelled as the directory's matching rules allow, with that person's own password.
    assert password == f"{person.username}-pass", (username, password, person)
    assert person == PEOPLE[person.username]
    assert not any(char in username for char in FILTER_METACHARACTERS), (username, person)


@pytest.mark.parametrize("mode", ["search", "direct"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempt=sign_in_attempts())
def test_property_nobody_signs_in_as_someone_else(slapd: Slapd, mode: str, attempt: tuple[str, str]) -> None:
    config = ldap_config_for(slapd)
    if mode == "direct":
        config = config.model_copy(update={"mode": "direct", "bind_template": DIRECT_TEMPLATE})
    _check(LdapDirectory(config), *attempt)
