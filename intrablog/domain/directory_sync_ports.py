"""The port the directory sync needs for its mirror of the directory and its record of runs (storage implements it).

Kept beside ``ports.py`` rather than in it so that each file stays one readable size; the unit of work
exposes it as ``uow.directory_sync``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from intrablog.domain.directory import DirectorySnapshot, PeopleChanges, SyncReport
from intrablog.domain.model import DirectoryPerson


@dataclass(frozen=True)
class RecordedRun:
    """What the scheduled sync needs to know of the previous run, whichever node or command made it."""

    ok: bool
    finished_at: datetime


class DirectorySyncRepository(Protocol):
    """The mirror of the directory: people, groups and who is in which, replaced from complete listings."""

    async def apply_people(
        self, people: Sequence[DirectoryPerson], site_admins: frozenset[str], now: datetime
    ) -> PeopleChanges:
        """Create or refresh everyone listed (active), deactivate every active user not listed."""
        ...

    async def replace_groups(self, snapshot: DirectorySnapshot) -> int:
        """Make the stored groups and memberships those of the snapshot; returns the memberships stored."""
        ...

    async def record_run(self, report: SyncReport) -> None: ...

    async def last_run(self) -> RecordedRun | None:
        """The run recorded last (good or failed), None before the first."""
        ...

    async def group_members(self, group_dn: str) -> list[str]:
        """Usernames of the members of this group (DN compared case-insensitively), by username."""
        ...
