"""What every service needs: the ports and the settings that shape the rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from intrablog.config import ChannelSeed
from intrablog.domain.ids import IdGenerator
from intrablog.domain.ports import Clock, Database, Directory, EventPublisher


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """Settings the services apply, lifted out of the config so services stay testable."""

    max_post_chars: int = 280
    token_ttl_hours: float = 24 * 14
    site_admins: frozenset[str] = frozenset()
    # Directory groups (lower-cased names or DNs) whose members are site admins.
    admin_groups: frozenset[str] = frozenset()
    seeded_channels: tuple[ChannelSeed, ...] = ()
    max_page_size: int = 100
    # Where people open intrablog; IM messages and summaries link there (config: server.public_url).
    public_url: str = "http://127.0.0.1:8080"
    # Who has not acknowledged an announcement is reminded once, this long after it (0: never); config:
    # announcements.reminder_delay_minutes.
    ack_reminder_delay_minutes: float = 240.0


@dataclass(frozen=True)
class ServiceContext:
    database: Database
    directory: Directory
    events: EventPublisher
    policy: Policy = Policy()
    clock: Clock = field(default_factory=SystemClock)
    ids: IdGenerator = field(default_factory=IdGenerator)
