"""Blocking ldap3 plumbing for the directory adapter: open a connection, bind, find one person's entry.

Everything here runs in a worker thread. Two outcomes besides success: :class:`DirectoryDown` (the directory
could not be asked, nothing was decided) and a refusal (``False`` / ``None``: the directory said no).
"""

from __future__ import annotations

import logging
import math
import ssl
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.core.tls import check_hostname
from ldap3.utils.conv import escape_filter_chars

from intrablog.config import LdapConfig
from intrablog.domain.model import DirectoryPerson

log = logging.getLogger(__name__)

# ldap3 raises these when the conversation itself failed (refused, reset, timed out, TLS could not be
# established or the certificate is wrong): the directory was not asked, so the answer is "unavailable".
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPStartTLSError,
    ldap_errors.LDAPCertificateError,
    ldap_errors.LDAPSSLConfigurationError,
    ldap_errors.LDAPResponseTimeoutError,
    ldap_errors.LDAPMaximumRetriesError,
    OSError,
)

# Result codes that say the server could not do the work right now, as opposed to judging the request.
_SERVER_TROUBLE_CODES = frozenset(
    {
        1,  # operationsError
        2,  # protocolError
        3,  # timeLimitExceeded
        11,  # adminLimitExceeded
        51,  # busy
        52,  # unavailable
        54,  # loopDetect
        80,  # other
    }
)
_SIZE_LIMIT_EXCEEDED = 4


class DirectoryDown(Exception):
    """The directory could not give an answer (outage, timeout, or a service account it refuses)."""


@dataclass(frozen=True)
class Entry:
    dn: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str | None:
        values = self.values(name)
        return values[0] if values else None

    def values(self, name: str) -> list[str]:
        wanted = name.lower()
        for key, values in self.attributes.items():
            if key.lower() == wanted:
                return values
        return []


class _Tls(ldap3.Tls):
    """ldap3's Tls, except that the connection holds the TLS socket before the handshake and the name check.

    ldap3 2.9.1 does both inside ``wrap_socket`` and stores the wrapped socket on the connection only when they
    pass: a certificate for another name left an open SSLSocket that no cleanup could reach (ResourceWarning
    "unclosed <ssl.SSLSocket>"; with StartTLS the socket stayed open until the garbage collector ran).
    """

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        super().wrap_socket(connection, do_handshake=False)
        if do_handshake:
            connection.socket.do_handshake()
            if self.validate in (ssl.CERT_REQUIRED, ssl.CERT_OPTIONAL):
                check_hostname(connection.socket, connection.server.host, self.valid_names)


def open_connection(config: LdapConfig, connect_timeout: float, receive_timeout: float) -> ldap3.Connection:
    """A fresh, opened connection (StartTLS done when configured); nothing bound yet."""
    tls = None
    if config.url.startswith("ldaps://") or config.start_tls:
        tls = _Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(config.ca_file) if config.ca_file is not None else None,
            valid_names=config.tls_valid_names or None,
        )
    server = ldap3.Server(config.url, get_info=ldap3.NONE, tls=tls, connect_timeout=connect_timeout)
    connection = ldap3.Connection(
        server,
        auto_bind=ldap3.AUTO_BIND_NONE,
        # ldap3 2.9.1 packs this into SO_RCVTIMEO as an integer and fails on a float ("not an integer").
        receive_timeout=max(1, math.ceil(receive_timeout)),
        read_only=True,
        # A referral would send the password to a server the configuration never named.
        auto_referrals=False,
        raise_exceptions=False,
    )
    try:
        connection.open(read_server_info=False)
    except BaseException:
        # ldap3 leaves the socket of a refused connect open, and unbind() skips a connection never opened.
        if connection.socket is not None:
            connection.socket.close()
        raise
    if config.start_tls:
        try:
            started = connection.start_tls(read_server_info=False)
        except BaseException:
            close(connection)
            raise
        if not started:
            close(connection)
            raise DirectoryDown(f"StartTLS refused: {connection.result}")
    return connection


def close(connection: ldap3.Connection) -> None:
    try:
        connection.unbind()
    except Exception:  # the answer is already decided; a dead socket changes nothing
        log.debug("ldap connection did not close cleanly", exc_info=True)
    finally:
        # unbind() skips closing the socket when sending the unbind request fails (a failed TLS handshake).
        if connection.socket is not None:
            connection.socket.close()


def result_code(connection: ldap3.Connection) -> int:
    result: Any = connection.result
    if isinstance(result, dict):
        return int(result.get("result", -1))
    return -1


def bind_service(connection: ldap3.Connection, config: LdapConfig) -> None:
    """Bind as the service account, or anonymously when none is configured. DirectoryDown on refusal."""
    if config.bind_dn:
        password = config.bind_password.get_secret_value() if config.bind_password is not None else ""
        bound = simple_bind(connection, config.bind_dn, password.encode("utf-8"))
    else:
        connection.authentication = ldap3.ANONYMOUS
        connection.user = None
        connection.password = None
        bound = bool(connection.bind(read_server_info=False))
    if not bound:
        description = connection.result.get("description") if isinstance(connection.result, dict) else None
        # Not the user's fault: nobody can sign in until the service account works again.
        log.error("ldap service bind refused (%s); check ldap.bind_dn and ldap.bind_password", description)
        raise DirectoryDown("service bind refused")


def simple_bind(connection: ldap3.Connection, name: str, password: bytes) -> bool:
    """True when the directory accepts the name and password; False when it refuses them.

    The password goes as raw bytes: ldap3 would SASLprep a str, which maps characters such as a soft hyphen
    to nothing and could turn a non-empty password into an empty one - an unauthenticated bind that some
    servers (Active Directory) accept.
    """
    if not name or not password:
        return False
    connection.authentication = ldap3.SIMPLE
    connection.user = name
    connection.password = password
    if connection.bind(read_server_info=False):
        return True
    code = result_code(connection)
    if code in _SERVER_TROUBLE_CODES:
        raise DirectoryDown(f"bind answered with result {code}")
    return False


def find_person(connection: ldap3.Connection, config: LdapConfig, username: str) -> Entry | None:
    """The single entry user_filter matches for this username; None when none or several do."""
    search_filter = config.user_filter.replace("{username}", escape_filter_chars(username))
    connection.search(
        config.user_base,
        search_filter,
        search_scope=ldap3.SUBTREE,
        attributes=person_attributes(config),
        # Two are enough to know the answer is ambiguous.
        size_limit=2,
    )
    code = result_code(connection)
    if code not in (0, _SIZE_LIMIT_EXCEEDED):
        if code == 32:  # noSuchObject: user_base is not in this directory
            log.error("ldap.user_base %r does not exist in the directory", config.user_base)
        raise DirectoryDown(f"search answered with result {code}")
    entries = [item for item in connection.response or [] if item.get("type") == "searchResEntry"]
    if len(entries) != 1 or code == _SIZE_LIMIT_EXCEEDED:
        if len(entries) > 1:
            log.warning("ldap user_filter matches several entries for one username; refusing sign-in")
        return None
    raw = entries[0]
    return Entry(dn=str(raw.get("dn") or ""), attributes=decoded_attributes(raw.get("raw_attributes") or {}))


def person_attributes(config: LdapConfig) -> list[str]:
    """What is read of a person, at sign-in and in the sync listing alike."""
    names = config.attributes
    attributes = [names.username, names.display_name, names.mail]
    for optional in (names.department, names.xmpp):
        if optional:
            attributes.append(optional)
    return attributes


def person_of(entry: Entry, config: LdapConfig, username: str) -> DirectoryPerson:
    """The person an entry describes, ``username`` being its canonical login: at sign-in and in the sync alike."""
    names = config.attributes
    xmpp = entry.first(names.xmpp) if names.xmpp else (config.xmpp_template.replace("{username}", username) or None)
    return DirectoryPerson(
        username=username,
        display_name=entry.first(names.display_name) or username,
        email=entry.first(names.mail),
        xmpp_address=xmpp,
        department=department_of(entry, config),
    )


def department_of(entry: Entry, config: LdapConfig) -> str | None:
    """The configured department attribute, trimmed; None when absent or blank (the report says "(none)")."""
    name = config.attributes.department
    value = (entry.first(name) or "").strip() if name else ""
    # Bounded like the column that stores it: a directory value is never a reason to fail a sign-in.
    return value[:256] or None


def decoded_attributes(raw_attributes: Any) -> dict[str, list[str]]:
    decoded: dict[str, list[str]] = {}
    for name, values in dict(raw_attributes).items():
        decoded[str(name)] = [
            value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value) for value in values
        ]
    return decoded
