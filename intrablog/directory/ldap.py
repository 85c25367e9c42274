"""The Directory port over LDAP (OpenLDAP, Active Directory, ...) with ldap3.

ldap3 is synchronous: each call runs in a worker thread with ldap3's own connect and receive timeouts, and
the whole call is bounded once more with ``asyncio.wait_for``, so an outage becomes ``Unavailable`` in
seconds and never looks like "wrong password". Each call opens its own connection: a directory that comes
back is used again without a restart, and no state is shared between threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

import ldap3
from ldap3.utils.dn import escape_rdn

from intrablog.config import LdapConfig
from intrablog.directory.ldap_connection import (
    OUTAGE_ERRORS,
    DirectoryDown,
    Entry,
    bind_service,
    close,
    find_person,
    open_connection,
    person_of,
    simple_bind,
)
from intrablog.directory.listing import Lister, ListingIncomplete
from intrablog.domain.directory import DirectorySnapshot
from intrablog.domain.model import DirectoryPerson
from intrablog.domain.rules import is_plausible_username
from intrablog.errors import Incomplete, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# The port promises an answer within 5 s; leave room for the event loop and the thread hand-over.
MAX_CALL_SECONDS = 4.0
# Far beyond any real password, far below what servers accept before a bind: slapd drops an unauthenticated
# connection sent more than 256 KiB, which would turn a silly password into "directory unavailable".
MAX_PASSWORD_BYTES = 4096


def _for_log(username: str) -> str:
    # Usernames are user input: bounded and escaped before they reach a log line.
    return repr(username[:64])


def refuses_outright(username: str, password: str) -> bool:
    """What no directory gets to see: a blank or absurd password, or a name that can never be a login."""
    if not password.strip() or not is_plausible_username(username):
        return True
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no directory stores such a password
        return True
    return len(encoded) > MAX_PASSWORD_BYTES


class LdapDirectory:
    """Implements ``intrablog.domain.ports.Directory``."""

    def __init__(self, config: LdapConfig, call_timeout: float = MAX_CALL_SECONDS) -> None:
        self._config = config
        self._call_timeout = min(call_timeout, MAX_CALL_SECONDS)
        # ldap3's own limits stay inside the overall one, so a worker thread never outlives its call by much.
        self._connect_timeout = min(config.connect_timeout, self._call_timeout)
        self._receive_timeout = min(config.receive_timeout, self._call_timeout)

    @property
    def config(self) -> LdapConfig:
        return self._config

    async def authenticate(self, username: str, password: str) -> DirectoryPerson | None:
        if refuses_outright(username, password):
            log.info("sign-in refused before asking the directory", extra={"username": _for_log(username)})
            return None
        secret = password.encode("utf-8")
        person = await self._run(lambda: self._authenticate_blocking(username, secret), username)
        if person is None:
            log.info("directory refused sign-in", extra={"username": _for_log(username)})
        return person

    async def ping(self) -> None:
        await self._run(self._ping_blocking, None)

    async def list_people(self, page_size: int | None = None) -> DirectorySnapshot:
        size = self._config.page_size if page_size is None else page_size
        try:
            # A listing of tens of thousands of entries takes longer than a sign-in: its own overall limit,
            # while ldap3's receive timeout still ends it soon after the server stops answering.
            snapshot = await asyncio.wait_for(asyncio.to_thread(self._list_blocking, size), self._config.sync_timeout)
        except TimeoutError as exc:
            log.warning("directory listing did not finish within %.0f s", self._config.sync_timeout)
            raise Unavailable(f"directory listing did not finish within {self._config.sync_timeout:.0f} s") from exc
        except DirectoryDown as exc:
            log.warning("directory unavailable for a listing: %s", exc)
            raise Unavailable(f"directory unavailable ({exc})") from exc
        except ListingIncomplete as exc:
            log.warning("directory listing incomplete: %s", exc)
            raise Incomplete(f"directory listing incomplete: {exc}") from exc
        return snapshot

    def _list_blocking(self, page_size: int) -> DirectorySnapshot:
        connection = self._connect()
        try:
            bind_service(connection, self._config)
            return Lister(connection, self._config, page_size).snapshot()
        except (DirectoryDown, ListingIncomplete):
            raise
        except OUTAGE_ERRORS as exc:
            raise DirectoryDown(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # no user input here: whatever else fails leaves the listing incomplete
            raise ListingIncomplete(f"{type(exc).__name__}: {exc}") from exc
        finally:
            close(connection)

    async def _run(self, work: Callable[[], T], username: str | None) -> T:
        extra = {} if username is None else {"username": _for_log(username)}
        try:
            return await asyncio.wait_for(asyncio.to_thread(work), self._call_timeout)
        except TimeoutError as exc:
            log.warning("directory did not answer within %.1f s", self._call_timeout, extra=extra)
            raise Unavailable("directory unavailable") from exc
        except DirectoryDown as exc:
            log.warning("directory unavailable: %s", exc, extra=extra)
            raise Unavailable("directory unavailable") from exc

    # -- blocking work, in a worker thread ----------------------------------------------------------------

    def _connect(self) -> ldap3.Connection:
        try:
            return open_connection(self._config, self._connect_timeout, self._receive_timeout)
        except DirectoryDown:
            raise
        except Exception as exc:  # no user input is involved yet: any failure is the directory's
            raise DirectoryDown(f"{type(exc).__name__}: {exc}") from exc

    def _ping_blocking(self) -> None:
        connection = self._connect()
        try:
            bind_service(connection, self._config)
        except DirectoryDown:
            raise
        except Exception as exc:  # a ping has no input to blame: whatever fails is an outage
            raise DirectoryDown(f"{type(exc).__name__}: {exc}") from exc
        finally:
            close(connection)

    def _authenticate_blocking(self, username: str, password: bytes) -> DirectoryPerson | None:
        connection = self._connect()
        try:
            if self._config.mode == "search":
                entry = self._search_then_bind(connection, username, password)
            else:
                entry = self._bind_then_read(connection, username, password)
            return None if entry is None else self._person(entry, username)
        except DirectoryDown:
            raise
        except OUTAGE_ERRORS as exc:
            raise DirectoryDown(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # the port's contract: odd input is a refusal, never a crash
            # ldap3 raises assorted errors for input it cannot encode (filters, DNs, very long values).
            log.warning(
                "sign-in refused: ldap3 rejected the request (%s)",
                type(exc).__name__,
                extra={"username": _for_log(username)},
            )
            return None
        finally:
            close(connection)

    def _search_then_bind(self, connection: ldap3.Connection, username: str, password: bytes) -> Entry | None:
        bind_service(connection, self._config)
        entry = find_person(connection, self._config, username)
        if entry is None or not simple_bind(connection, entry.dn, password):
            return None
        return entry

    def _bind_then_read(self, connection: ldap3.Connection, username: str, password: bytes) -> Entry | None:
        template = self._config.bind_template or ""
        # In a DN the name is an attribute value: escaped so that "," or "+" cannot add RDNs.
        name = escape_rdn(username) if "=" in template else username
        if not simple_bind(connection, template.replace("{username}", name), password):
            return None
        entry = find_person(connection, self._config, username)
        if entry is None:
            log.warning(
                "bind succeeded but ldap.user_filter finds no single entry for the user; check the configuration",
                extra={"username": _for_log(username)},
            )
        return entry

    def _person(self, entry: Entry, typed: str) -> DirectoryPerson:
        names = self._config.attributes
        username = _canonical_username(entry.values(names.username), typed)
        return person_of(entry, self._config, username)


def _canonical_username(values: list[str], typed: str) -> str:
    """The directory's spelling of the login, lower-cased: "ALICE" or full-width letters sign in as alice.

    With several values (a multi-valued uid) the first is taken whichever one was typed: one entry, one user.
    """
    for value in values:
        if value.strip():
            return value.strip().lower()
    return typed.strip().lower()
