"""Real slapd servers for the tests: one per session with the demo directory, and private ones on demand.

Tests that stop, pause or restart a server take ``private_slapd``; everyone else shares ``slapd`` and must
leave its entries as they found them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd, free_port, slapd_version
from tests.support.server_report import ServersUsed, record_server, report_servers

DEV_DIRECTORY_LDIF = Path(__file__).resolve().parents[2] / "deploy" / "dev" / "directory.ldif"
ADMIN_DN = "cn=admin,dc=example,dc=com"
ADMIN_PASSWORD = "admin-secret"  # the dev directory's published password
# Short enough that an outage test finishes quickly, long enough for a loaded CI machine.
TEST_TIMEOUT_SECONDS = 2.0

_servers_used: ServersUsed = ServersUsed()


def ldap_config_for(server: Slapd, **overrides: Any) -> LdapConfig:
    """Search-mode settings for ``server``, with the service account; keyword arguments override."""
    settings: dict[str, Any] = {
        "url": server.url,
        "mode": "search",
        "bind_dn": ADMIN_DN,
        "bind_password": SecretStr(ADMIN_PASSWORD),
        "user_base": "dc=example,dc=com",
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
        "connect_timeout": TEST_TIMEOUT_SECONDS,
        "receive_timeout": TEST_TIMEOUT_SECONDS,
    }
    settings.update(overrides)
    return LdapConfig(**settings)


def _start_demo_directory(workdir: Path, config: pytest.Config, label: str) -> Slapd:
    server = Slapd(workdir, free_port(), admin_password=ADMIN_PASSWORD)
    server.start()
    try:
        server.load_ldif(DEV_DIRECTORY_LDIF)
    except BaseException:
        server.stop()
        raise
    record_server(config, _servers_used, label, server.url)
    return server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Slapd]:
    """A running slapd holding deploy/dev/directory.ldif, shared by the whole session."""
    server = _start_demo_directory(tmp_path_factory.mktemp("slapd"), pytestconfig, "session")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ldap_config(slapd: Slapd) -> LdapConfig:
    return ldap_config_for(slapd)


@pytest.fixture
def private_slapd(tmp_path: Path, pytestconfig: pytest.Config) -> Iterator[Slapd]:
    """A slapd of this test's own, holding the demo directory: free to stop, pause and restart."""
    server = _start_demo_directory(tmp_path / "slapd", pytestconfig, "private")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_ldap_config(private_slapd: Slapd) -> LdapConfig:
    return ldap_config_for(private_slapd)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    report_servers(terminalreporter, config, _servers_used, "slapd", slapd_version())
