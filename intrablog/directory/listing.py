"""Blocking, complete listings for the directory sync: people, groups, and who belongs to which group.

A listing is all or nothing. Any answer but "success" on any page (a size or admin limit, a time limit, a
referral, a paging error), and any continuation reference, ends it with :class:`ListingIncomplete`; the caller
then changes nothing. Runs in a worker thread, like the rest of the adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import ldap3
from ldap3.utils.conv import escape_filter_chars

from intrablog.config import LdapConfig
from intrablog.directory.ldap_connection import (
    Entry,
    decoded_attributes,
    person_attributes,
    person_of,
    result_code,
)
from intrablog.domain.directory import DirectoryGroup, DirectorySnapshot, GroupKind, ListedPerson
from intrablog.domain.model import DirectoryPerson
from intrablog.domain.rules import is_plausible_username

log = logging.getLogger(__name__)

_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_IN_CHAIN = "1.2.840.113556.1.4.1941"
# Active Directory adds to every subtree search from the domain root continuation references to the other
# naming contexts of the forest (Configuration, DomainDnsZones, ForestDnsZones), which hold no people: a listing
# there could never complete. Its domain scope control leaves them out. Sent to Active Directory only: OpenLDAP
# honours it too, and there a reference means people on another server, which must end the listing.
_DOMAIN_SCOPE = ("1.2.840.113556.1.4.1339", False, None)
# LDAP_CAP_ACTIVE_DIRECTORY_OID in the root DSE's supportedCapabilities: the server is Active Directory.
_AD_CAPABILITY = "1.2.840.113556.1.4.800"
_RESULT_NAMES = {
    # Active Directory's answer to a search made without a bind: the sync needs a service account there.
    1: "operations error (Active Directory's answer to an anonymous search: set ldap.bind_dn and ldap.bind_password)",
    3: "time limit exceeded",
    4: "size limit exceeded",
    10: "referral",
    11: "admin limit exceeded",
    12: "unavailable critical extension (paging)",
    32: "no such object (check the base DN)",
    53: "unwilling to perform",
}


class ListingIncomplete(Exception):
    """The directory answered, but not with everything asked for."""


def normalized_dn(dn: str) -> str:
    """A DN in the form two spellings of one entry share (case and spaces around separators)."""
    return ",".join("=".join(part.strip() for part in rdn.split("=", 1)) for rdn in dn.split(",")).lower()


def search_all(
    connection: ldap3.Connection,
    base: str,
    search_filter: str,
    attributes: list[str],
    page_size: int,
    domain_scope: bool = False,
) -> Iterator[Entry]:
    """Every entry matching, page by page (one unpaged search when ``page_size`` is 0); ``domain_scope`` for AD."""
    cookie: bytes | None = None
    while True:
        connection.search(
            base,
            search_filter,
            search_scope=ldap3.SUBTREE,
            attributes=attributes or [ldap3.NO_ATTRIBUTES],
            paged_size=page_size or None,
            paged_cookie=cookie,
            controls=[_DOMAIN_SCOPE] if domain_scope else None,
        )
        code = result_code(connection)
        if code != 0:
            reason = _RESULT_NAMES.get(code, "result")
            raise ListingIncomplete(f"search of {base!r} ended with {reason} ({code}){_diagnostic(connection)}")
        for item in connection.response or []:
            kind = item.get("type")
            if kind == "searchResRef":
                raise ListingIncomplete(f"search of {base!r} was referred elsewhere ({item.get('uri')})")
            if kind == "searchResEntry":
                raw = item.get("raw_attributes") or {}
                yield Entry(dn=str(item.get("dn") or ""), attributes=decoded_attributes(raw))
        if not page_size:
            return
        cookie = _next_cookie(connection)
        if not cookie:
            return


def is_active_directory(connection: ldap3.Connection) -> bool:
    """Whether the server's root DSE says it is Active Directory; False when it cannot be read."""
    connection.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["supportedCapabilities"])
    if result_code(connection) != 0:
        return False
    for item in connection.response or []:
        if item.get("type") == "searchResEntry":
            entry = Entry(dn="", attributes=decoded_attributes(item.get("raw_attributes") or {}))
            return _AD_CAPABILITY in entry.values("supportedCapabilities")
    return False


def _diagnostic(connection: ldap3.Connection) -> str:
    """The server's own words about a failed search, bounded (they end up in sync_runs and the logs)."""
    result: Any = connection.result
    message = str(result.get("message") or "").strip() if isinstance(result, dict) else ""
    return f": {message[:200]}" if message else ""


def _next_cookie(connection: ldap3.Connection) -> bytes | None:
    result: Any = connection.result
    controls = result.get("controls") if isinstance(result, dict) else None
    if not controls or _PAGED_RESULTS not in controls:
        # A server that ignores the control would answer the first page only and look complete.
        raise ListingIncomplete("the directory answered a paged search without the paging control")
    cookie = controls[_PAGED_RESULTS].get("value", {}).get("cookie")
    return bytes(cookie) if cookie else None


class Lister:
    """Reads one complete snapshot over an opened, bound connection."""

    def __init__(self, connection: ldap3.Connection, config: LdapConfig, page_size: int) -> None:
        self._connection = connection
        self._config = config
        self._page_size = page_size
        self._domain_scope = False

    def snapshot(self) -> DirectorySnapshot:
        self._domain_scope = is_active_directory(self._connection)
        people = self._people()
        by_dn = {normalized_dn(dn): person.username for dn, person in people.items()}
        groups, members = self._groups(by_dn)
        group_dns: dict[str, set[str]] = {}
        for group_dn, usernames in members.items():
            for username in usernames:
                group_dns.setdefault(username, set()).add(group_dn)
        listed = tuple(
            ListedPerson(person, frozenset(group_dns.get(person.username, ()))) for person in people.values()
        )
        return DirectorySnapshot(people=listed, groups=tuple(groups))

    def _people(self) -> dict[str, DirectoryPerson]:
        names = self._config.attributes
        attributes = person_attributes(self._config)
        people: dict[str, DirectoryPerson] = {}
        seen: set[str] = set()
        entries = search_all(
            self._connection,
            self._config.user_base,
            self._config.people_filter,
            attributes,
            self._page_size,
            self._domain_scope,
        )
        for entry in entries:
            username = next((value.strip().lower() for value in entry.values(names.username) if value.strip()), "")
            if not is_plausible_username(username) or username in seen:
                # Such an entry can never sign in; a second entry for a username is not a second person.
                log.warning("directory sync skips entry %r (no usable or a duplicate %s)", entry.dn, names.username)
                continue
            seen.add(username)
            people[entry.dn] = person_of(entry, self._config, username)
        return people

    def _groups(self, person_by_dn: dict[str, str]) -> tuple[list[DirectoryGroup], dict[str, set[str]]]:
        """The groups, and for each (by DN as listed) the usernames of its members, nested groups resolved."""
        settings = self._config.groups
        base = settings.base or self._config.user_base
        dn_classes = [c.lower() for c in settings.member_dn_classes]
        uid_classes = [c.lower() for c in settings.member_uid_classes]
        wanted = "".join(f"(objectClass={escape_filter_chars(c)})" for c in [*dn_classes, *uid_classes])
        if not wanted:
            return [], {}
        in_chain = settings.nested == "in_chain"
        attributes = ["objectClass", settings.name_attribute]
        if not in_chain:
            attributes += [*settings.member_dn_attributes, settings.member_uid_attribute]
        groups: list[DirectoryGroup] = []
        direct: dict[str, set[str]] = {}  # group DN (normalized) -> member DNs (normalized) or usernames
        groups_found = search_all(
            self._connection, base, f"(|{wanted})", attributes, self._page_size, self._domain_scope
        )
        for entry in groups_found:
            classes = {value.lower() for value in entry.values("objectClass")}
            kind = GroupKind.MEMBER_DN if classes & set(dn_classes) else GroupKind.MEMBER_UID
            name = entry.first(settings.name_attribute) or entry.dn
            groups.append(DirectoryGroup(dn=entry.dn, name=name, kind=kind))
            if in_chain:
                continue
            if kind is GroupKind.MEMBER_DN:
                values = [v for attribute in settings.member_dn_attributes for v in entry.values(attribute)]
                direct[normalized_dn(entry.dn)] = {normalized_dn(value) for value in values}
            else:
                uids = entry.values(settings.member_uid_attribute)
                direct[normalized_dn(entry.dn)] = {"uid:" + value.strip().lower() for value in uids}
        usernames = set(person_by_dn.values())
        members: dict[str, set[str]] = {}
        for group in groups:
            if in_chain:
                members[group.dn] = self._in_chain_members(group.dn, person_by_dn)
            else:
                members[group.dn] = _expand(normalized_dn(group.dn), direct, person_by_dn, usernames)
        return groups, members

    def _in_chain_members(self, group_dn: str, person_by_dn: dict[str, str]) -> set[str]:
        """Active Directory resolves nested groups itself: people whose memberOf chain reaches the group."""
        people_filter = self._config.people_filter
        search_filter = f"(&{people_filter}(memberOf:{_IN_CHAIN}:={escape_filter_chars(group_dn)}))"
        found: set[str] = set()
        entries = search_all(
            self._connection, self._config.user_base, search_filter, [], self._page_size, self._domain_scope
        )
        for entry in entries:
            username = person_by_dn.get(normalized_dn(entry.dn))
            if username is not None:
                found.add(username)
        return found


def _expand(group: str, direct: dict[str, set[str]], person_by_dn: dict[str, str], usernames: set[str]) -> set[str]:
    """Usernames reachable from ``group`` through member DNs, memberUids and groups inside groups."""
    found: set[str] = set()
    visited: set[str] = set()
    pending = [group]
    while pending:
        current = pending.pop()
        if current in visited:
            continue  # a cycle of groups containing each other
        visited.add(current)
        for member in direct.get(current, ()):
            if member.startswith("uid:"):
                if member[4:] in usernames:
                    found.add(member[4:])
            elif member in person_by_dn:
                found.add(person_by_dn[member])
            elif member in direct:
                pending.append(member)
    return found
