"""Announcements that ask for acknowledgement: which posts may, and how a report groups people.

Pure rules; the announcement service applies them, storage only reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from intrablog.domain.model import Acknowledgement, Channel, PendingAcknowledgement
from intrablog.errors import FieldError, Invalid

# How a report names the people whose directory entry has no department.
NO_DEPARTMENT = "(none)"
ACK_DOORS = ("web", "im")


def check_announcement_flags(requires_ack: bool, urgent: bool, channel: Channel | None, is_reply: bool) -> None:
    """Only a new post in an announcement channel may ask for acknowledgement or be urgent.

    Raises Invalid naming each flag that was set where it cannot be.
    """
    if is_reply:
        where = "a reply cannot"
    elif channel is None:
        where = "a personal update cannot"
    elif not channel.is_announcement:
        where = f"a post in {channel.name!r} cannot"
    else:
        return
    errors = [
        FieldError(name, f"only announcements may {what}: {where}")
        for name, what, flag in (
            ("requires_ack", "ask for acknowledgement", requires_ack),
            ("urgent", "be urgent", urgent),
        )
        if flag
    ]
    if errors:
        raise Invalid.of(errors)


def check_door(via: str) -> None:
    if via not in ACK_DOORS:
        raise Invalid("via", f"must be one of {', '.join(ACK_DOORS)}")


def department_label(department: str | None) -> str:
    return department if department else NO_DEPARTMENT


def department_order(department: str | None) -> tuple[bool, str, str]:
    """Sort key: departments alphabetically (case-insensitively), people without one last.

    Applied in Python rather than SQL so that SQLite and PostgreSQL (whose collations differ) agree.
    """
    name = department or ""
    return (not department, name.casefold(), name)


def order_pending(pending: Sequence[PendingAcknowledgement]) -> list[PendingAcknowledgement]:
    return sorted(pending, key=lambda person: (department_order(person.department), person.username))


def by_department(
    acknowledged: Sequence[Acknowledgement], pending: Sequence[PendingAcknowledgement]
) -> list[tuple[str, int, int]]:
    """(department or "(none)", acknowledged, pending) for every department someone is in, "(none)" last."""
    counts: dict[str | None, list[int]] = {}
    for ack in acknowledged:
        counts.setdefault(ack.department or None, [0, 0])[0] += 1
    for person in pending:
        counts.setdefault(person.department or None, [0, 0])[1] += 1
    return [
        (department_label(department), done, waiting)
        for department, (done, waiting) in sorted(counts.items(), key=lambda item: department_order(item[0]))
    ]


def reminder_cutoff(now: datetime, delay_minutes: float) -> datetime | None:
    """Announcements made at or before this moment are due their reminder; None when reminders are off."""
    if delay_minutes <= 0:
        return None
    return now - timedelta(minutes=delay_minutes)
