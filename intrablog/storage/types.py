"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time: stored as UTC, always read back as a timezone-aware UTC datetime.

    SQLite has no timestamp type and drops the offset, PostgreSQL converts to the session's time zone;
    normalising here means comparisons in SQL (``expires_at > now``) and in Python agree on both.
    Naive datetimes are refused: guessing their zone is how off-by-hours bugs get written to disk.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; keeping every value in one zone and one format keeps text order = time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
