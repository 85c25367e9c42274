"""LDAPS and StartTLS with a CA file and certificate checks, against a real slapd with trustme certificates.

A certificate the configuration cannot trust is an outage (``Unavailable``), never a sign-in and never a
"wrong password"; and the password is not sent at all.
"""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.directory.ldap import LdapDirectory
from intrablog.domain.model import DirectoryPerson
from intrablog.errors import Unavailable
from tests.support.slapd_fixtures import ADMIN_PASSWORD, DEV_DIRECTORY_LDIF, ldap_config_for
from tests.support.tls import TlsSlapd, issue_server_certificate, write_ca

ALICE = DirectoryPerson("alice", "Alice Archer", "alice@example.com", "alice@example.com", "Engineering")
# The port promises Unavailable within 5 s, whatever the configured timeouts.
PROMISED_SECONDS = 5.0

# ldap3 2.9.1 checks certificate names with ssl.match_hostname (deprecated since Python 3.7; ldap3 falls back to
# its own copy where it is gone): nothing this project can change, like the pyasn1 warnings in pyproject.toml.
pytestmark = pytest.mark.filterwarnings(r"ignore:ssl\.match_hostname\(\) is deprecated:DeprecationWarning")

Transport = Literal["starttls", "ldaps"]
TRANSPORTS: list[Transport] = ["starttls", "ldaps"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[TlsSlapd]:
    """The demo directory with a certificate for 127.0.0.1, localhost and ldap.example.test."""
    folder = tmp_path_factory.mktemp("tls-slapd")
    certificate = issue_server_certificate(ca, folder / "tls", "127.0.0.1", "localhost", "ldap.example.test")
    with TlsSlapd(folder / "slapd", certificate, DEV_DIRECTORY_LDIF, ADMIN_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def other_name_slapd(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[TlsSlapd]:
    """The demo directory with a certificate for other.example.test only (no IP, as Active Directory has)."""
    folder = tmp_path_factory.mktemp("other-name-slapd")
    certificate = issue_server_certificate(ca, folder / "tls", "other.example.test")
    with TlsSlapd(folder / "slapd", certificate, DEV_DIRECTORY_LDIF, ADMIN_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def foreign_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that issued none of the servers' certificates."""
    return write_ca(trustme.CA(), tmp_path_factory.mktemp("foreign-ca") / "ca.pem")


def tls_config(server: TlsSlapd, transport: Transport, **overrides: Any) -> LdapConfig:
    """Search-mode settings for ``server`` over StartTLS on ldap:// or over ldaps://; keywords override."""
    settings: dict[str, Any] = {"ca_file": server.certificate.ca_file}
    if transport == "starttls":
        settings["start_tls"] = True
    else:
        settings["url"] = server.ldaps_url
    settings.update(overrides)
    return ldap_config_for(server.slapd, **settings)


async def unavailable(call: Awaitable[object]) -> None:
    """``call`` raises Unavailable within the promised time: it neither answers nor hangs."""
    with pytest.raises(Unavailable) as raised:
        await asyncio.wait_for(call, PROMISED_SECONDS)
    assert raised.value.detail == "directory unavailable"


async def binds_during(server: TlsSlapd, call: Awaitable[object]) -> int:
    """How many binds slapd received while ``call`` ran (Unavailable expected from it)."""
    before = server.slapd.bind_count()
    await unavailable(call)
    return server.slapd.bind_count() - before


# -- the right CA -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_alice_signs_in_over_tls_with_the_right_ca(tls_slapd: TlsSlapd, transport: Transport) -> None:
    directory = LdapDirectory(tls_config(tls_slapd, transport))
    assert await directory.authenticate("alice", "alice-pass") == ALICE
    await directory.ping()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_wrong_password_over_tls_is_still_a_refusal(tls_slapd: TlsSlapd, transport: Transport) -> None:
    assert await LdapDirectory(tls_config(tls_slapd, transport)).authenticate("alice", "bob-pass") is None


# -- certificates the configuration does not trust -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_certificate_from_another_ca_is_an_outage_and_no_password_is_sent(
    tls_slapd: TlsSlapd, foreign_ca_file: Path, transport: Transport
) -> None:
    directory = LdapDirectory(tls_config(tls_slapd, transport, ca_file=foreign_ca_file))
    assert await binds_during(tls_slapd, directory.authenticate("alice", "alice-pass")) == 0
    await unavailable(directory.ping())


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_without_a_ca_file_the_system_store_does_not_trust_a_private_ca(
    tls_slapd: TlsSlapd, transport: Transport
) -> None:
    directory = LdapDirectory(tls_config(tls_slapd, transport, ca_file=None))
    assert await binds_during(tls_slapd, directory.authenticate("alice", "alice-pass")) == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_certificate_for_another_name_is_an_outage_and_no_password_is_sent(
    other_name_slapd: TlsSlapd, transport: Transport
) -> None:
    directory = LdapDirectory(tls_config(other_name_slapd, transport))
    assert await binds_during(other_name_slapd, directory.authenticate("alice", "alice-pass")) == 0
    await unavailable(directory.ping())


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tls_valid_names_accepts_the_name_the_certificate_carries(
    other_name_slapd: TlsSlapd, transport: Transport
) -> None:
    # Active Directory's certificate names the DC's host name, not the address we connect to.
    directory = LdapDirectory(tls_config(other_name_slapd, transport, tls_valid_names=["other.example.test"]))
    assert await directory.authenticate("alice", "alice-pass") == ALICE
    await directory.ping()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tls_valid_names_does_not_accept_other_names(other_name_slapd: TlsSlapd, transport: Transport) -> None:
    directory = LdapDirectory(tls_config(other_name_slapd, transport, tls_valid_names=["ldap.example.test"]))
    await unavailable(directory.authenticate("alice", "alice-pass"))


# -- a server without TLS ----------------------------------------------------------------------------------------


async def test_starttls_against_a_slapd_without_tls_is_an_outage(slapd: Slapd) -> None:
    # The session slapd has no certificate: it refuses StartTLS, and the adapter must not go on in clear.
    directory = LdapDirectory(ldap_config_for(slapd, start_tls=True))
    binds_before = slapd.bind_count()
    await unavailable(directory.authenticate("alice", "alice-pass"))
    await unavailable(directory.ping())
    assert slapd.bind_count() == binds_before


def open_sockets_to(port: int) -> int:
    """TCP sockets of this process connected to 127.0.0.1:``port``, whoever still references them."""
    inodes: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    remote = f"0100007F:{port:04X}"
    rows = Path("/proc/self/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[2] == remote and row.split()[9] in inodes)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("trouble", ["foreign-ca", "other-name"])
async def test_a_refused_certificate_leaves_no_socket_open(
    tls_slapd: TlsSlapd, other_name_slapd: TlsSlapd, foreign_ca_file: Path, transport: Transport, trouble: str
) -> None:
    server = tls_slapd if trouble == "foreign-ca" else other_name_slapd
    config = tls_config(server, transport, **({"ca_file": foreign_ca_file} if trouble == "foreign-ca" else {}))
    port = server.slapd.port if transport == "starttls" else server.ldaps_port
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        await unavailable(LdapDirectory(config).authenticate("alice", "alice-pass"))
        gc.collect()
    # Closed by the adapter, not by the garbage collector (ResourceWarning) nor left open (a log record holds it).
    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []
    assert open_sockets_to(port) == 0
