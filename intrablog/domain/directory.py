"""What a complete listing of the directory says: people, their groups, and the groups themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from intrablog.domain.model import DirectoryPerson


class GroupKind(StrEnum):
    # Members named by DN (groupOfNames, groupOfUniqueNames, Active Directory groups).
    MEMBER_DN = "member_dn"
    # Members named by username (posixGroup memberUid).
    MEMBER_UID = "member_uid"


@dataclass(frozen=True)
class DirectoryGroup:
    dn: str
    name: str
    kind: GroupKind


@dataclass(frozen=True)
class ListedPerson:
    person: DirectoryPerson
    # DNs of the groups this person belongs to (directly or through nested groups), as the groups spell them.
    group_dns: frozenset[str]


@dataclass(frozen=True)
class DirectorySnapshot:
    """Every person and group the directory holds under the configured bases: complete, never partial."""

    people: tuple[ListedPerson, ...]
    groups: tuple[DirectoryGroup, ...]


@dataclass(frozen=True)
class PeopleChanges:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    deactivated_ids: tuple[int, ...] = ()
    # Who, by username, sorted: the audit log names the people when a sync changed few of them.
    created_usernames: tuple[str, ...] = ()
    updated_usernames: tuple[str, ...] = ()
    deactivated_usernames: tuple[str, ...] = ()
    reactivated_usernames: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncReport:
    ok: bool
    started_at: datetime
    finished_at: datetime
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    reactivated: int = 0
    people: int = 0
    groups: int = 0
    memberships: int = 0
    sessions_revoked: int = 0
    # Channel memberships the bound groups added, removed or changed the role of.
    channel_memberships_changed: int = 0
    # Why the sync changed nothing, when it failed.
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()
