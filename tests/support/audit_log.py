"""The audit entries that a test's setup leaves behind, built exactly, so tests compare whole logs.

Entries are in the API's shape without ``id`` and ``at`` (checked by the paging tests): actor (None for the
system), action, subject, details.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from intrablog.config import ChannelSeed
from intrablog.domain.model import AuditEntry
from tests.support.app_fixtures import DEMO_CHANNELS

CONFIG_AT_SIGN_IN = "configuration at sign-in"


def entry(actor: str | None, action: str, subject: str, **details: Any) -> dict[str, Any]:
    return {"actor": actor, "action": action, "subject": subject, "details": details}


def without_ids(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """API entries with their ``id`` and ``at`` dropped."""
    return [{key: value for key, value in each.items() if key not in ("id", "at")} for each in entries]


def as_entries(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    """Entries read through the service, in the API's shape without ``id`` and ``at``."""
    return [entry(each.actor, each.action, each.subject, **each.details) for each in entries]


def seeded_channels(channels: Sequence[ChannelSeed] = DEMO_CHANNELS) -> list[dict[str, Any]]:
    """The ``channel.created`` entries of seeding the config's channels, newest first."""
    return [
        entry(
            None,
            "channel.created",
            f"channel {seed.name}",
            kind=seed.kind,
            source="config",
            title=seed.title,
            visibility=seed.visibility,
        )
        for seed in reversed(channels)
    ]


def configured_posters(
    signed_in: Sequence[str], channels: Sequence[ChannelSeed] = DEMO_CHANNELS
) -> list[dict[str, Any]]:
    """The entries that the first sign-ins of ``signed_in`` (in that order) leave, newest first.

    For people who belonged to no channel before: each public channel whose config names them a poster makes
    them one, by name order within a sign-in. Plain announcement memberships are not audited, so nobody else
    leaves an entry.
    """
    oldest_first = [
        entry(
            None, "membership.added", f"channel {seed.name}", member=username, role="poster", source=CONFIG_AT_SIGN_IN
        )
        for username in signed_in
        for seed in sorted(channels, key=lambda seed: seed.name)
        if username in seed.posters and seed.visibility == "public"
    ]
    return oldest_first[::-1]
