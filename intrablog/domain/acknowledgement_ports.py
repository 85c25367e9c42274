"""The port the announcement service needs for acknowledgements and their reminder (storage implements it).

Kept beside ``ports.py`` rather than in it so that each file stays one readable size; the unit of work
exposes it as ``uow.acknowledgements``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from intrablog.domain.model import Acknowledgement, PendingAcknowledgement, Post, User


class AcknowledgementRepository(Protocol):
    async def add(self, post_id: int, user_id: int, at: datetime, via: str) -> bool:
        """Record an acknowledgement unless there is one (the first time and door stand); True when new."""
        ...

    async def get(self, post_id: int, user_id: int) -> Acknowledgement | None: ...

    async def by_user(self, user_id: int, post_ids: Sequence[int]) -> list[Acknowledgement]:
        """This person's acknowledgements among ``post_ids`` (a fixed number of queries)."""
        ...

    async def of_post(self, post_id: int) -> list[Acknowledgement]:
        """Everyone who acknowledged, oldest first; people deactivated since stay (it happened)."""
        ...

    async def pending(self, post_id: int, author_id: int) -> list[PendingAcknowledgement]:
        """Every active person but the author who has not acknowledged, by username."""
        ...

    async def unacknowledged_by(self, viewer: User, limit: int) -> list[Post]:
        """Posts asking for acknowledgement that the viewer may read, did not write and has not acknowledged,
        newest first."""
        ...

    async def due_for_reminder(self, created_before: datetime) -> list[tuple[int, int]]:
        """(post id, author id) of the live posts asking for acknowledgement, made at or before
        ``created_before``, whose reminder has not gone out, oldest first."""
        ...

    async def claim_reminder(self, post_id: int, now: datetime) -> bool:
        """Write the post's reminder row unless one exists (another node's round); True when this call wrote
        it. On PostgreSQL a concurrent claim waits for this transaction and then finds the row."""
        ...

    async def remind(self, post_id: int, author_id: int, origin_id: str, now: datetime) -> list[int]:
        """Queue the IM reminder (set-based) for everyone pending who has an IM address, record how many
        were reminded on the claimed row, and return the ids of everyone pending."""
        ...
