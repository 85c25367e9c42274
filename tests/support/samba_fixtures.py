"""A real Active Directory domain controller (Samba 4) for the tests, started once per session when asked for.

Provisioning takes several seconds, so one DC serves the whole session: tests that change it (a group's
members, an account disabled) put it back as they found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from intrablog.config import LdapAttributes, LdapConfig, LdapGroups
from tests.support.samba import BASE, CERTIFICATE_NAME, DOMAIN, SYNC_PASSWORD, SYNC_UPN, SambaDc, samba_version
from tests.support.server_report import ServersUsed, record_server, report_servers

# Short enough that an outage test finishes quickly, long enough for a loaded CI machine.
TEST_TIMEOUT_SECONDS = 2.0
# People as Active Directory knows them: enabled user accounts (bit 2 of userAccountControl is "disabled"),
# not computers (objectClass=user too) nor the built-in disabled accounts (Guest, krbtgt).
AD_PEOPLE_FILTER = "(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"

_servers_used: ServersUsed = ServersUsed()


def ad_ldap_config(dc: SambaDc, **overrides: Any) -> LdapConfig:
    """The "Active Directory instead" settings of deploy/intrablog.example.toml for ``dc``; keywords override.

    Direct binds as ``{username}@corp.example`` over LDAPS; the sync reads as an ordinary domain user and
    resolves nested groups on the server (in-chain). Pages of 2 entries, so every listing takes several.
    """
    settings: dict[str, Any] = {
        "url": dc.ldaps_url,
        "mode": "direct",
        "bind_template": f"{{username}}@{DOMAIN}",
        "bind_dn": SYNC_UPN,
        "bind_password": SecretStr(SYNC_PASSWORD),
        "user_base": BASE,
        "user_filter": "(&(objectClass=user)(sAMAccountName={username}))",
        "people_filter": AD_PEOPLE_FILTER,
        "ca_file": dc.ca_file,
        "tls_valid_names": [CERTIFICATE_NAME],
        "xmpp_template": f"{{username}}@{DOMAIN}",
        "attributes": LdapAttributes(
            username="sAMAccountName", display_name="displayName", mail="mail", department="department"
        ),
        "groups": LdapGroups(member_dn_classes=["group"], member_dn_attributes=["member"], nested="in_chain"),
        "page_size": 2,
        "connect_timeout": TEST_TIMEOUT_SECONDS,
        "receive_timeout": TEST_TIMEOUT_SECONDS,
    }
    settings.update(overrides)
    return LdapConfig(**settings)


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[SambaDc]:
    """A running Samba AD DC for corp.example: alice, bob, carol, dave and nested groups (tests/support/samba.py)."""
    dc = SambaDc(tmp_path_factory.mktemp("samba"))
    dc.provision()
    dc.start()
    try:
        record_server(pytestconfig, _servers_used, "session", f"{dc.address} (ldap 389, ldaps 636, realm corp.example)")
        yield dc
    finally:
        dc.stop()


@pytest.fixture
def ad_config(samba_dc: SambaDc) -> LdapConfig:
    return ad_ldap_config(samba_dc)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    report_servers(terminalreporter, config, _servers_used, "samba AD DC", samba_version)
